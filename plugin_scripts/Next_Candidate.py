# Plugins > Fiji Bridge > Next Candidate (Jython): when Suggest Contour picked the wrong object,
# replaces the suggestion with the next-ranked object near the same initial selection.
# Recordable: run("Next Candidate");
import bridgeclient
from ij import IJ, WindowManager


def main():
    value = bridgeclient.call("next_candidate", WindowManager.getCurrentImage())
    IJ.showStatus("Next Candidate: candidate %d" % value.get("candidate"))


bridgeclient.run(main)
