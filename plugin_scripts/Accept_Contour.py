# Plugins > Fiji Bridge > Accept Contour (Jython): adds the current selection (normally the
# suggestion of Suggest Contour) to the ROI Manager, named 0001, 0002, ... like AnnotatorJ,
# keeping its class group and the stack slice. Recordable: run("Accept Contour");
import bridgeclient
from ij import IJ, WindowManager


def main():
    name = bridgeclient.call("accept_contour", WindowManager.getCurrentImage())
    IJ.showStatus("Accept Contour: added " + name)


bridgeclient.run(main)
