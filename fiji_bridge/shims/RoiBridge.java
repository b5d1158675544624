package fiji_bridge;

import ij.gui.Line;
import ij.gui.OvalRoi;
import ij.gui.PointRoi;
import ij.gui.PolygonRoi;
import ij.gui.Roi;
import ij.gui.ShapeRoi;
import ij.plugin.frame.RoiManager;
import ij.process.FloatPolygon;

import java.awt.Color;
import java.awt.geom.AffineTransform;
import java.awt.geom.Path2D;
import java.awt.geom.PathIterator;
import java.awt.geom.Rectangle2D;
import java.util.Arrays;

/**
 * Bulk conversion between packed arrays (filled from numpy by fiji_bridge) and ImageJ ROIs.
 *
 * Layout shared with fiji_bridge/ij/rois.py: ROI i owns paths roiPaths[i] .. roiPaths[i+1]-1,
 * path j owns vertices pathStarts[j] .. pathStarts[j+1]-1 of xs/ys. Coordinates travel as
 * doubles so rectangles, ovals and lines get ImageJ's double arithmetic (as the per-ROI JPype
 * fallback does); polygon vertices become floats, as in ImageJ. Types are ImageJ's Roi
 * type codes. Names travel as one String joined with '\0'. Colours are ARGB ints, used where
 * hasColor is true. Hyperstack positions travel as (channel, slice, frame) triples in one int[]
 * of 3 per ROI, used where the channel, slice or frame is above 0 (then ImageJ ignores the
 * plain position). One call per batch keeps the Python/Java crossing count constant.
 */
public final class RoiBridge {
    /** Raised with every change of a method's signature; fiji_bridge/ij/rois.py checks it. */
    public static final int VERSION = 5;

    private RoiBridge() {}

    /** Builds one ROI per entry of the packed arrays. */
    public static Roi[] build(double[] xs, double[] ys, int[] pathStarts, int[] roiPaths, int[] types,
                              String names, int[] groups, int[] positions, int[] hyperstacks,
                              int[] colors, boolean[] hasColor) {
        int n = types.length;
        String[] nameList = splitNames(names, n);
        Roi[] rois = new Roi[n];
        for (int i = 0; i < n; i++) {
            Roi roi = makeRoi(xs, ys, pathStarts, roiPaths[i], roiPaths[i + 1], types[i]);
            if (!nameList[i].isEmpty()) roi.setName(nameList[i]);
            if (groups[i] != 0) roi.setGroup(groups[i]);
            if (positions[i] != 0) roi.setPosition(positions[i]);
            int c = hyperstacks[3 * i], z = hyperstacks[3 * i + 1], t = hyperstacks[3 * i + 2];
            if (c > 0 || z > 0 || t > 0) roi.setPosition(c, z, t);
            if (hasColor[i]) roi.setStrokeColor(new Color(colors[i], true));
            else if (groups[i] != 0) roi.setStrokeColor(null);  // setGroup paints the group colour
            rois[i] = roi;
        }
        return rois;
    }

    /**
     * The area ROIs of {@code manager} on the plane (z = {@code slice}, t = {@code frame}) whose
     * stack indices are {@code positions} (none: a single image, where every ROI counts) whose
     * bounds meet the box
     * [x0, x1) x [y0, y1), widened by one pixel for sub-pixel outlines. An ROI with a hyperstack
     * position is on the plane when its slice and frame are that plane's or 0, as ImageJ shows
     * it; an ROI without any position belongs to the slice its name holds, as the ROI Manager
     * reads it ({@code getSliceNumber}: 0002-yyyy-xxxx is slice 2).
     */
    public static Roi[] areasMeeting(RoiManager manager, int x0, int y0, int x1, int y1, int[] positions,
                                     int slice, int frame) {
        java.util.ArrayList<Roi> out = new java.util.ArrayList<>();
        for (Roi roi : manager.getRoisAsArray()) {
            if (!roi.isArea() || !onPlane(manager, roi, positions, slice, frame)) continue;
            java.awt.Rectangle b = roi.getBounds();
            if (b.x <= x1 && b.y <= y1 && b.x + b.width >= x0 && b.y + b.height >= y0) out.add(roi);
        }
        return out.toArray(new Roi[0]);
    }

    private static boolean onPlane(RoiManager manager, Roi roi, int[] positions, int slice, int frame) {
        if (positions.length == 0) return true;  // a single image: ImageJ shows every ROI on it
        int p = roi.getPosition();
        if (p == 0 && roi.hasHyperStackPosition()) {
            int z = roi.getZPosition(), t = roi.getTPosition();
            return (z == 0 || z == slice) && (t == 0 || t == frame);
        }
        if (p == 0 && roi.getName() != null) p = Math.max(manager.getSliceNumber(roi.getName()), 0);
        return p == 0 || contains(positions, p);
    }

    private static boolean contains(int[] values, int value) {
        for (int v : values) if (v == value) return true;
        return false;
    }

    /** Appends ROIs to a ROI Manager in one pass on the Java side. */
    public static void addAll(RoiManager manager, Roi[] rois) {
        for (Roi roi : rois) manager.addRoi(roi);
    }

    /**
     * Packs ROIs into arrays: {double[] xs, double[] ys, int[] pathStarts, int[] roiPaths,
     * int[] types, String names, int[] groups, int[] positions, int[] hyperstacks, int[] colors,
     * boolean[] hasColor}. Ovals are their integer bounding box (4 corners); a rounded rectangle
     * is a RECTANGLE with its integer bounding box and a 5th vertex (d, d), d its corner diameter:
     * Python rebuilds the pixels ImageJ's getMask covers from those.
     */
    public static Object[] pack(Roi[] rois) {
        int n = rois.length;
        DoubleBuf x = new DoubleBuf(), y = new DoubleBuf();
        IntBuf pathStarts = new IntBuf();
        int[] roiPaths = new int[n + 1], types = new int[n], groups = new int[n], positions = new int[n], colors = new int[n];
        int[] hyperstacks = new int[3 * n];
        boolean[] hasColor = new boolean[n];
        StringBuilder names = new StringBuilder();
        for (int i = 0; i < n; i++) {
            Roi roi = rois[i];
            roiPaths[i] = pathStarts.size;
            types[i] = roi.getType();
            appendPaths(roi, x, y, pathStarts);
            if (i > 0) names.append('\0');
            String name = roi.getName();
            if (name != null) names.append(name);
            groups[i] = roi.getGroup();
            positions[i] = roi.getPosition();
            if (roi.hasHyperStackPosition()) {
                hyperstacks[3 * i] = roi.getCPosition();
                hyperstacks[3 * i + 1] = roi.getZPosition();
                hyperstacks[3 * i + 2] = roi.getTPosition();
            }
            Color c = roi.getStrokeColor();
            if (c != null) { hasColor[i] = true; colors[i] = c.getRGB(); }
        }
        roiPaths[n] = pathStarts.size;
        pathStarts.add(x.size);
        return new Object[] {x.toArray(), y.toArray(), pathStarts.toArray(), roiPaths, types,
                             names.toString(), groups, positions, hyperstacks, colors, hasColor};
    }

    private static String[] splitNames(String names, int n) {
        String[] out = new String[n];
        int start = 0;
        for (int i = 0; i < n; i++) {
            int end = i == n - 1 ? names.length() : names.indexOf('\0', start);
            out[i] = names.substring(start, end);
            start = end + 1;
        }
        return out;
    }

    private static Roi makeRoi(double[] xs, double[] ys, int[] pathStarts, int firstPath, int endPath, int type) {
        int a = pathStarts[firstPath], b = pathStarts[firstPath + 1], count = b - a;
        switch (type) {
            case Roi.RECTANGLE:
            case Roi.OVAL: {
                double x0 = Double.MAX_VALUE, y0 = Double.MAX_VALUE, x1 = -Double.MAX_VALUE, y1 = -Double.MAX_VALUE;
                for (int k = a; k < b; k++) {
                    x0 = Math.min(x0, xs[k]); x1 = Math.max(x1, xs[k]);
                    y0 = Math.min(y0, ys[k]); y1 = Math.max(y1, ys[k]);
                }
                return type == Roi.RECTANGLE ? new Roi(x0, y0, x1 - x0, y1 - y0) : new OvalRoi(x0, y0, x1 - x0, y1 - y0);
            }
            case Roi.LINE:
                return new Line(xs[a], ys[a], xs[a + 1], ys[a + 1]);
            case Roi.POINT:
                return new PointRoi(floats(xs, a, b), floats(ys, a, b), count);
            case Roi.COMPOSITE: {
                Path2D.Float path = new Path2D.Float(Path2D.WIND_EVEN_ODD);
                for (int p = firstPath; p < endPath; p++) {
                    int s = pathStarts[p], e = pathStarts[p + 1];
                    path.moveTo(xs[s], ys[s]);
                    for (int k = s + 1; k < e; k++) path.lineTo(xs[k], ys[k]);
                    path.closePath();
                }
                return new ShapeRoi(path);
            }
            default:
                return new PolygonRoi(floats(xs, a, b), floats(ys, a, b), count, type);
        }
    }

    private static void appendPaths(Roi roi, DoubleBuf x, DoubleBuf y, IntBuf pathStarts) {
        switch (roi.getType()) {
            case Roi.RECTANGLE:
            case Roi.OVAL: {  // ovals and rounded rectangles travel as their integer bounding box
                int corner = roi.getType() == Roi.RECTANGLE ? roi.getCornerDiameter() : 0;
                Rectangle2D r = roi.getType() == Roi.OVAL || corner > 0 ? roi.getBounds() : roi.getFloatBounds();
                pathStarts.add(x.size);
                x.add(r.getMinX()); y.add(r.getMinY()); x.add(r.getMaxX()); y.add(r.getMinY());
                x.add(r.getMaxX()); y.add(r.getMaxY()); x.add(r.getMinX()); y.add(r.getMaxY());
                if (corner > 0) { x.add(corner); y.add(corner); }  // a 5th vertex: the corner diameter
                return;
            }
            case Roi.LINE: {
                Line line = (Line) roi;
                pathStarts.add(x.size);
                x.add(line.x1d); y.add(line.y1d); x.add(line.x2d); y.add(line.y2d);
                return;
            }
            case Roi.COMPOSITE: {
                ShapeRoi shape = (ShapeRoi) roi;
                AffineTransform at = AffineTransform.getTranslateInstance(shape.getXBase(), shape.getYBase());
                PathIterator it = shape.getShape().getPathIterator(at, 0.05);
                float[] seg = new float[6];
                int start = -1;
                for (; !it.isDone(); it.next()) {
                    int kind = it.currentSegment(seg);
                    if (kind == PathIterator.SEG_MOVETO) {
                        start = x.size;
                        pathStarts.add(start);
                        x.add(seg[0]); y.add(seg[1]);
                    } else if (kind == PathIterator.SEG_LINETO) {
                        x.add(seg[0]); y.add(seg[1]);
                    } else if (kind == PathIterator.SEG_CLOSE && x.size - start > 1
                               && x.data[x.size - 1] == x.data[start] && y.data[y.size - 1] == y.data[start]) {
                        x.size--; y.size--;
                    }
                }
                return;
            }
            default: {
                FloatPolygon p = roi.getFloatPolygon();
                pathStarts.add(x.size);
                for (int k = 0; k < p.npoints; k++) { x.add(p.xpoints[k]); y.add(p.ypoints[k]); }
            }
        }
    }

    /** xs[a] .. xs[b-1] as floats (rounded to nearest, as ImageJ's float polygons hold them). */
    private static float[] floats(double[] xs, int a, int b) {
        float[] out = new float[b - a];
        for (int k = a; k < b; k++) out[k - a] = (float) xs[k];
        return out;
    }

    private static final class DoubleBuf {
        double[] data = new double[1024];
        int size;
        void add(double v) {
            if (size == data.length) data = Arrays.copyOf(data, size * 2);
            data[size++] = v;
        }
        double[] toArray() { return Arrays.copyOf(data, size); }
    }

    private static final class IntBuf {
        int[] data = new int[256];
        int size;
        void add(int v) {
            if (size == data.length) data = Arrays.copyOf(data, size * 2);
            data[size++] = v;
        }
        int[] toArray() { return Arrays.copyOf(data, size); }
    }
}
