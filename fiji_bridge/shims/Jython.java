import ij.IJ;
import ij.plugin.Macro_Runner;
import ij.plugin.PlugInInterpreter;
import java.io.File;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.python.core.CompileMode;
import org.python.core.CompilerFlags;
import org.python.core.Py;
import org.python.core.PyCode;
import org.python.core.PyException;
import org.python.core.PyStringMap;
import org.python.core.PySystemState;

/** Runs Jython (.py) files from ImageJ 1.x's plugins folder with the installed jython.jar
 * (ImageJ looks for a plugin class named "Jython"; without it, it tries to download one).
 * The script's folder and <ImageJ>/jars/Lib (as in Fiji) go first on sys.path, for library modules.
 * One Jython system state is shared by all runs (library modules are imported once), each script
 * file is compiled once (again when its text changes) and every run gets fresh globals with
 * __name__ "__main__" and __file__; runs on different threads may overlap. */
public class Jython extends PlugInInterpreter {
    private static PySystemState shared;
    private static final Map<String, Compiled> COMPILED = new ConcurrentHashMap<>();
    private String returnValue = "";

    /** A script's code object and the text it was compiled from. */
    private static final class Compiled {
        final String text;
        final PyCode code;
        Compiled(String text, PyCode code) { this.text = text; this.code = code; }
    }

    public String run(String script, String arg) {
        String path = Macro_Runner.getFilePath();
        PySystemState state = sharedState(path == null ? null : new File(path).getParent());
        PySystemState previous = Py.setSystemState(state);
        try {
            PyStringMap globals = Py.newStringMap();
            globals.__setitem__("__name__", Py.newString("__main__"));
            if (path != null)
                globals.__setitem__("__file__", Py.newString(path));
            Py.runCode(compiled(path, script), globals, globals);
        } catch (PyException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException && "Macro canceled".equals(cause.getMessage()))
                throw (RuntimeException) cause;
            IJ.log(e.toString());
            IJ.error("Jython", "The script failed: " + firstLine(e) + "\n(details in the Log window)");
        } finally {
            flush(state);
            Py.setSystemState(previous);
        }
        return null;
    }

    /** The shared system state, with jars/Lib and `folder` (if not null) on sys.path. */
    private static synchronized PySystemState sharedState(String folder) {
        if (shared == null) {
            PySystemState.initialize();
            shared = new PySystemState();
            File libraries = new File(IJ.getDir("imagej"), "jars" + File.separator + "Lib");
            if (libraries.isDirectory())
                shared.path.insert(0, Py.newString(libraries.getPath()));
            PySystemState previous = Py.setSystemState(shared);
            try {
                Py.importSiteIfSelected();  // as PythonInterpreter does
            } finally {
                Py.setSystemState(previous);
            }
        }
        if (folder != null && !shared.path.__contains__(Py.newString(folder)))
            shared.path.insert(0, Py.newString(folder));
        return shared;
    }

    /** The code object of `script`, compiled once per file (and again when the file's text changed). */
    private static PyCode compiled(String path, String script) {
        String key = path == null ? "<string>" : path;
        Compiled known = COMPILED.get(key);
        if (known != null && known.text.equals(script))
            return known.code;
        PyCode code = Py.compile_flags(script, key, CompileMode.exec, new CompilerFlags());
        COMPILED.put(key, new Compiled(script, code));
        return code;
    }

    private static void flush(PySystemState state) {
        try {
            state.stdout.invoke("flush");
            state.stderr.invoke("flush");
        } catch (PyException ignored) {
            // a script replaced sys.stdout/stderr with something that cannot flush
        }
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
