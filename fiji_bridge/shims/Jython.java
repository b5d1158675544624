import ij.IJ;
import ij.plugin.Macro_Runner;
import ij.plugin.PlugInInterpreter;
import java.io.File;
import org.python.core.Py;
import org.python.core.PyException;
import org.python.util.PythonInterpreter;

/** Runs Jython (.py) files from ImageJ 1.x's plugins folder with the installed jython.jar
 * (ImageJ looks for a plugin class named "Jython"; without it, it tries to download one).
 * The script's folder and <ImageJ>/jars/Lib (as in Fiji) go first on sys.path, for library modules. */
public class Jython extends PlugInInterpreter {
    private String returnValue = "";

    public String run(String script, String arg) {
        PythonInterpreter python = new PythonInterpreter();
        try {
            File libraries = new File(IJ.getDir("imagej"), "jars" + File.separator + "Lib");
            if (libraries.isDirectory())
                python.getSystemState().path.insert(0, Py.newString(libraries.getPath()));
            String path = Macro_Runner.getFilePath();
            if (path != null) {
                python.getSystemState().path.insert(0, Py.newString(new File(path).getParent()));
                python.set("__file__", path);
            }
            python.set("__name__", "__main__");
            python.exec(script);
        } catch (PyException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException && "Macro canceled".equals(cause.getMessage()))
                throw (RuntimeException) cause;
            IJ.log(e.toString());
            IJ.error("Jython", "The script failed: " + firstLine(e) + "\n(details in the Log window)");
        } finally {
            python.cleanup();
        }
        return null;
    }

    private static String firstLine(PyException e) {
        String text = e.value == null ? e.toString() : e.type + ": " + e.value;
        return text.replaceAll("\\s+", " ").trim();
    }

    public String getReturnValue() { return returnValue; }
    public String getName() { return "Jython"; }
    public String getImports() { return ""; }
    public String getVersion() { return "fiji_bridge"; }
}
