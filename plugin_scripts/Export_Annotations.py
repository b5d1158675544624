# Plugins > Fiji Bridge > Export Annotations (Jython): ROIs -> label / layered / binary masks,
# box CSVs, YOLO and COCO files in AnnotatorJ's folder layout (labelled_masks/<img>.tiff, ...,
# Class_NN/ subfolders for classes). Source: the current image with the ROI Manager, or a folder
# of images with <img>_ROIs.zip files. Never overwrites unless "Overwrite" is ticked.
# Recordable, e.g. run("Export Annotations", "source=[ROI Manager] output=/out label coco");
# run("Export Annotations", "source=folder image=/data/images output=/out layered yolo boxes=polygons");
# Macros may also name formats as the command line does (labels, bbox, all); an unknown word is refused.
import bridgeclient
from ij import IJ, Macro, WindowManager
from ij.gui import GenericDialog

TITLE = "Export Annotations"
SOURCES = ["ROI Manager", "folder"]
FORMATS = [("Label masks", "labels"), ("Layered masks", "layered"), ("Binary masks", "binary"),
           ("Bounding boxes (CSV)", "bbox"), ("YOLO labels", "yolo"), ("COCO JSON", "coco")]


def main():
    bridgeclient.service()
    memory = bridgeclient.DialogMemory(TITLE)
    gd = GenericDialog(TITLE)
    gd.addChoice("Source", SOURCES, memory.get("source", SOURCES[0], SOURCES))
    gd.addDirectoryField("Image folder (source=folder)", memory.get("image", ""))
    gd.addDirectoryField("ROI folder (empty = image folder)", memory.get("rois", ""))
    gd.addDirectoryField("Output folder", memory.get("output", ""))
    formats = memory.get("formats", "labels").split(",")
    gd.addCheckboxGroup(3, 2, [label for label, _ in FORMATS], [key in formats for _, key in FORMATS])
    gd.addChoice("Boxes or polygons (YOLO)", ["boxes", "polygons"], memory.get("yolo", "boxes", ["boxes", "polygons"]))
    values = memory.get("values", "index", ["index", "name"])
    gd.addChoice("Values in label masks", ["index", "name"], values)  # macro key: values=
    gd.addCheckbox("Overwrite existing files", memory.get("overwrite", False))
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
    memory.save({"source": SOURCES[1] if from_folder else SOURCES[0], "image": folder, "rois": rois,
                 "output": output, "formats": options["formats"], "yolo": options["yolo"],
                 "values": options["values"], "overwrite": options["overwrite"]})
    if Macro.getOptions() is not None:
        options["macro"] = Macro.getOptions()  # checked for format words the dialog does not know
    image = None if from_folder else WindowManager.getCurrentImage()
    count = bridgeclient.call("export_annotations", image, options)
    IJ.showStatus("%s: %s files written to %s" % (TITLE, count, output))


bridgeclient.run(main)
