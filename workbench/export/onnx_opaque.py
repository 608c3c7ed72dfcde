"""ONNX export of Opaque nodes of the ONNX flavour: the dynamo exporter writes each
`workbench::onnx_opaque` op as a placeholder node (domain `workbench.opaque`, the stored call
as its attribute); `splice` then puts the original node back in its place (converted to the
file's opset where the two differ), its constants as initializers, so the file runs in plain
onnxruntime and carries no trace of Workbench."""
from __future__ import annotations

DOMAIN, OP = "workbench.opaque", "OnnxOpaque"
_registered = False


def has_onnx_opaque(module) -> bool:
    from workbench.core.opaque_onnx import OpaqueOnnxModule
    return any(isinstance(m, OpaqueOnnxModule) for m in module.modules())


def translation_table() -> dict:
    """{the custom op: an onnxscript function emitting the placeholder node}."""
    global _registered
    import onnx
    import onnxscript
    import torch
    from onnx.defs import OpSchema
    import workbench.core.opaque_onnx  # noqa: F401  (registers the custom op)
    if not _registered:
        kinds = ["tensor(float)", "tensor(double)", "tensor(float16)", "tensor(bfloat16)", "tensor(int64)",
                 "tensor(int32)", "tensor(int16)", "tensor(int8)", "tensor(uint8)", "tensor(bool)"]
        onnx.defs.register_schema(OpSchema(
            OP, DOMAIN, 1,
            inputs=[OpSchema.FormalParameter("feed", "T", param_option=OpSchema.FormalParameterOption.Variadic,
                                             is_homogeneous=False)],
            outputs=[OpSchema.FormalParameter("out", "U")],
            type_constraints=[("T", kinds, ""), ("U", ["tensor(float)", "tensor(int64)"], "")],
            attributes=[OpSchema.Attribute("call", OpSchema.AttrType.STRING, "the stored call")]))
        _registered = True
    opset = onnxscript.values.Opset(DOMAIN, 1)

    def placeholder(call: str, feed):
        return opset.OnnxOpaque(*feed, call=call)

    return {torch.ops.workbench.onnx_opaque.default: placeholder}


def splice(model, opset: int):
    """Replace every placeholder in `model` (a ModelProto, changed in place) by its node."""
    import numpy as np
    import onnx
    from onnx import helper
    from workbench.core.opaque_onnx import one_node_model, parse_call
    graph = model.graph
    types = {v.name: v.type.tensor_type for v in [*graph.input, *graph.value_info, *graph.output]}
    types.update({t.name: onnx.helper.make_tensor_type_proto(t.data_type, list(t.dims)).tensor_type
                  for t in graph.initializer})
    new_nodes, imports = [], {o.domain: o for o in model.opset_import}
    typed: dict[str, tuple] = {}  # placeholder outputs: (dtype, per-sample shape)
    for k, node in enumerate(graph.node):
        if node.domain != DOMAIN:
            new_nodes.append(node)
            continue
        text = next(a.s.decode() for a in node.attribute if a.name == "call")
        call = parse_call(text)
        feed = []
        for name in node.input:
            t = types.get(name)
            dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name if t is not None and t.elem_type else "float32"
            rank = len(t.shape.dim) if t is not None and t.HasField("shape") else None
            feed.append((dtype, [None] * rank if rank is not None else None))
        small = one_node_model(call, feed)
        small = _at_opset(small, call, opset)
        prefix = f"{node.name or 'opaque'}_{k}__"
        rename = {f"in{i}": name for i, name in enumerate(node.input)}
        rename["out"] = node.output[0]

        def mapped(name: str) -> str:
            return "" if name == "" else rename.get(name, prefix + name)
        for init in small.graph.initializer:
            init.name = mapped(init.name)
            graph.initializer.append(init)
        for inner in small.graph.node:
            inner.input[:] = [mapped(n) for n in inner.input]
            inner.output[:] = [mapped(n) for n in inner.output]
            inner.name = prefix + (inner.name or inner.op_type)
            new_nodes.append(inner)
        typed[node.output[0]] = (call["out_dtype"], call["out_shape"])
        for o in small.opset_import:
            if o.domain not in ("", "ai.onnx") and o.domain not in imports:
                imports[o.domain] = helper.make_opsetid(o.domain, o.version)
    del graph.node[:]
    graph.node.extend(new_nodes)
    # The exporter leaves a placeholder's output untyped: type it from the recorded shape.
    first = graph.input[0].type.tensor_type.shape.dim if graph.input else []
    batch = first[0].dim_param if first and first[0].dim_param else "batch"

    def typed_as(value) -> None:
        dtype, shape = typed[value.name]
        value.type.CopyFrom(helper.make_tensor_type_proto(
            helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), [batch, *shape]))
    for value in graph.output:
        if value.name in typed and not value.type.tensor_type.elem_type:
            typed_as(value)
    kept = [v for v in graph.value_info if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type]
    for v in graph.value_info:
        if v.name in typed and not v.type.tensor_type.elem_type:
            typed_as(v)
            kept.append(v)
    del graph.value_info[:]
    graph.value_info.extend(kept)
    imports.pop(DOMAIN, None)
    del model.opset_import[:]
    model.opset_import.extend(imports.values())
    return model


def _at_opset(small, call: dict, opset: int):
    """The one-node model at the file's opset: unchanged when the op's definition is the same
    in both, else converted by onnx.version_converter; ExportError naming the op if it cannot."""
    import onnx
    from workbench.export.report import ExportError
    node = small.graph.node[0]
    wanted = int(call["opsets"].get("", call["opsets"].get("ai.onnx", opset)))
    if node.domain not in ("", "ai.onnx") or wanted == opset:
        return small
    try:
        if onnx.defs.get_schema(node.op_type, wanted).since_version == \
                onnx.defs.get_schema(node.op_type, opset).since_version:
            opsets = [o for o in small.opset_import if o.domain not in ("", "ai.onnx")]
            del small.opset_import[:]
            small.opset_import.extend([onnx.helper.make_opsetid("", opset), *opsets])
            return small
    except Exception:  # noqa: BLE001 - no schema at one of the versions: let the converter say
        pass
    try:
        return onnx.version_converter.convert_version(small, opset)
    except Exception as exc:  # noqa: BLE001
        why = " ".join(str(exc).split())[:160]
        raise ExportError(f"cannot export the Opaque node for ONNX {node.op_type} (opset {wanted}) "
                          f"into an opset {opset} file: {why}") from None


def splice_file(path, opset: int) -> None:
    import onnx
    model = onnx.load(str(path))
    if any(n.domain == DOMAIN for n in model.graph.node):
        onnx.save(splice(model, opset), str(path))


def refuse(model, what: str) -> None:
    """A format other than ONNX cannot carry an ONNX-flavour Opaque node: say which."""
    from workbench.core.opaque_onnx import OpaqueOnnxModule
    from workbench.export.report import ExportError
    for name, m in model.module.named_modules():
        if isinstance(m, OpaqueOnnxModule):
            raise ExportError(f"cannot export the Opaque node '{name}' ({m.op}) to {what}: it runs an ONNX "
                              "node through onnxruntime, which only the ONNX format can carry again; "
                              "export to ONNX instead")

