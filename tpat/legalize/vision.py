"""RoiAlign's max mode. ONNX's reference (which onnxruntime follows) takes, per sampling point, the largest of the
four bilinear terms w_k * v_k (not the interpolated value), then the largest over the bin's points; TVM's
roi_align takes the max of the interpolated values. Written here as one TE compute with the reference's
coordinates: scaled ROI, minus 0.5 after scaling with half_pixel, ROI at least 1x1 otherwise, a sampling grid of
`sampling_ratio` or ceil(roi size / output size) points per bin, points outside [-1, size] contributing 0. The avg
mode stays the stock converter's.
"""

from __future__ import annotations

from tvm.relax.frontend.onnx import onnx_frontend as stock


class RoiAlign(stock.RoiAlign):
    @classmethod
    def _impl(cls, bb, inputs, attr, params, default_coordinate_transformation_mode):
        mode = attr.get("mode", b"avg")
        if (mode.decode() if isinstance(mode, bytes) else mode) != "max":
            return super()._impl(bb, inputs, attr, params, default_coordinate_transformation_mode)
        transform = attr.get("coordinate_transformation_mode", default_coordinate_transformation_mode)
        half_pixel = (transform.decode() if isinstance(transform, bytes) else transform) == "half_pixel"
        return bb.emit_te(_roi_align_max, inputs[0], inputs[1], inputs[2], int(attr.get("output_height", 1)),
                          int(attr.get("output_width", 1)), int(attr.get("sampling_ratio", 0)),
                          float(attr.get("spatial_scale", 1.0)), half_pixel, primfunc_name_hint="roi_align_max")


def _roi_align_max(data, rois, batch_indices, pooled_h, pooled_w, sampling_ratio, spatial_scale, half_pixel):
    from tvm import te, tirx

    _, channels, height, width = [int(d) for d in data.shape]
    num_rois = int(rois.shape[0])
    kind = str(rois.dtype)

    def f(value):
        return tirx.const(value, kind)

    def compute(i, c, ph, pw):
        offset = f(0.5 if half_pixel else 0.0)
        start_w, start_h = rois[i, 0] * f(spatial_scale) - offset, rois[i, 1] * f(spatial_scale) - offset
        roi_w = rois[i, 2] * f(spatial_scale) - offset - start_w
        roi_h = rois[i, 3] * f(spatial_scale) - offset - start_h
        if not half_pixel:
            roi_w, roi_h = te.max(roi_w, f(1.0)), te.max(roi_h, f(1.0))
        bin_h, bin_w = roi_h / f(pooled_h), roi_w / f(pooled_w)
        if sampling_ratio > 0:
            grid_h = grid_w = tirx.const(sampling_ratio, "int32")
        else:
            grid_h = te.ceil(roi_h / f(pooled_h)).astype("int32")
            grid_w = te.ceil(roi_w / f(pooled_w)).astype("int32")
        rh, rw = te.reduce_axis((0, grid_h), "rh"), te.reduce_axis((0, grid_w), "rw")
        y = start_h + tirx.Cast(kind, ph) * bin_h + (tirx.Cast(kind, rh) + f(0.5)) * bin_h / tirx.Cast(kind, grid_h)
        x = start_w + tirx.Cast(kind, pw) * bin_w + (tirx.Cast(kind, rw) + f(0.5)) * bin_w / tirx.Cast(kind, grid_w)
        n = batch_indices[i].astype("int32")
        return te.max(_max_term(data, n, c, y, x, height, width, kind), axis=[rh, rw])

    return te.compute((num_rois, channels, pooled_h, pooled_w), compute, name="roi_align_max")


def _max_term(data, n, c, y, x, height, width, kind):
    """The largest of the four weighted corner values at (y, x), as the reference's pre_calc and max pooling."""
    from tvm import te, tirx

    outside = tirx.any(y < tirx.const(-1.0, kind), y > tirx.const(float(height), kind),
                       x < tirx.const(-1.0, kind), x > tirx.const(float(width), kind))
    y, x = te.max(y, tirx.const(0.0, kind)), te.max(x, tirx.const(0.0, kind))
    y_low, x_low = y.astype("int32"), x.astype("int32")
    y_edge, x_edge = y_low >= height - 1, x_low >= width - 1
    y_low = tirx.Select(y_edge, tirx.const(height - 1, "int32"), y_low)
    x_low = tirx.Select(x_edge, tirx.const(width - 1, "int32"), x_low)
    y_high = tirx.Select(y_edge, y_low, y_low + 1)
    x_high = tirx.Select(x_edge, x_low, x_low + 1)
    y = tirx.Select(y_edge, tirx.Cast(kind, y_low), y)
    x = tirx.Select(x_edge, tirx.Cast(kind, x_low), x)
    ly, lx = y - tirx.Cast(kind, y_low), x - tirx.Cast(kind, x_low)
    hy, hx = tirx.const(1.0, kind) - ly, tirx.const(1.0, kind) - lx
    terms = [hy * hx * data[n, c, y_low, x_low], hy * lx * data[n, c, y_low, x_high],
             ly * hx * data[n, c, y_high, x_low], ly * lx * data[n, c, y_high, x_high]]
    best = te.max(te.max(terms[0], terms[1]), te.max(terms[2], terms[3]))
    return tirx.Select(outside, tirx.const(0.0, str(data.dtype)), best)


CONVERTERS = {"RoiAlign": RoiAlign}
