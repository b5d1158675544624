import groovy.lang.Binding;
import groovy.lang.GroovyShell;
import ij.IJ;
import ij.Menus;
import ij.plugin.PlugIn;
import java.io.File;

/** Runs a Groovy (.groovy) command for ImageJ 1.x; plugins.config passes the script path
 * relative to the plugins folder, e.g. FijiBridgeGroovy("Fiji_Bridge/ROIs_to_Labels.groovy"). */
public class FijiBridgeGroovy implements PlugIn {
    public void run(String arg) {
        File script = new File(arg);
        if (!script.isAbsolute())
            script = new File(Menus.getPlugInsPath(), arg);
        if (!script.isFile()) {
            IJ.error("Fiji Bridge", "Groovy script not found: " + script + "\nRun 'fiji-bridge install' again.");
            return;
        }
        Binding binding = new Binding();
        binding.setVariable("scriptFile", script);
        try {
            new GroovyShell(FijiBridgeGroovy.class.getClassLoader(), binding).evaluate(script);
        } catch (RuntimeException e) {
            if ("Macro canceled".equals(e.getMessage()))
                throw e;
            IJ.log(script.getName() + ": " + e);
            IJ.error("Groovy", "The script " + script.getName() + " failed: " + e.getMessage()
                    + "\n(details in the Log window)");
        } catch (Exception e) {
            IJ.log(script.getName() + ": " + e);
            IJ.error("Groovy", "The script " + script.getName() + " failed: " + e.getMessage());
        }
    }
}
