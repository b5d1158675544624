# Plugins > Fiji Bridge > Export Annotations (Jython): ROIs -> label / layered / binary masks,
# box CSVs, YOLO and COCO files in AnnotatorJ's folder layout (labelled_masks/<img>.tiff, ...,
# Class_NN/ subfolders for classes). Source: the current image with the ROI Manager, or a folder
# of images with <img>_ROIs.zip files. Never overwrites unless "Overwrite" is ticked.
# Recordable, e.g. run("Export Annotations", "source=[ROI Manager] output=/out label coco");
# run("Export Annotations", "source=folder image=/data/images output=/out layered yolo boxes=polygons");
import bridgeclient
from ij import IJ, WindowManager
from ij.gui import GenericDialog

TITLE = "Export Annotations"
SOURCES = ["ROI Manager", "folder"]
FORMATS = [("Label masks", "labels"), ("Layered masks", "layered"), ("Binary masks", "binary"),
           ("Bounding boxes (CSV)", "bbox"), ("YOLO labels", "yolo"), ("COCO JSON", "coco")]


def main():
    bridgeclient.service()
    gd = GenericDialog(TITLE)
    gd.addChoice("Source", SOURCES, SOURCES[0])
    gd.addDirectoryField("Image folder (source=folder)", "")
    gd.addDirectoryField("ROI folder (empty = image folder)", "")
    gd.addDirectoryField("Output folder", "")
    gd.addCheckboxGroup(3, 2, [label for label, _ in FORMATS], [True, False, False, False, False, False])
    gd.addChoice("Boxes or polygons (YOLO)", ["boxes", "polygons"], "boxes")
    gd.addChoice("Values in label masks", ["index", "name"], "index")  # macro key: values=
    gd.addCheckbox("Overwrite existing files", False)
    gd.showDialog()
    if gd.wasCanceled():
        return
    from_folder = gd.getNextChoice() == "folder"
    folder, rois, output = gd.getNextString(), gd.getNextString(), gd.getNextString()
    options = {"output": output, "source": "folder" if from_folder else "manager"}
    if from_folder:
        options["folder"] = folder
        options["rois"] = rois
    options["formats"] = ",".join([key for _, key in FORMATS if gd.getNextBoolean()])
    options["yolo"] = gd.getNextChoice()
    options["values"] = gd.getNextChoice()
    options["overwrite"] = gd.getNextBoolean()
    image = None if from_folder else WindowManager.getCurrentImage()
    count = bridgeclient.call("export_annotations", image, options)
    IJ.showStatus("%s: %s files written to %s" % (TITLE, count, output))


bridgeclient.run(main)
