"""Recurrent layers (LSTM, GRU, RNN) for the ONNX importer.

Workbench tensors are batch-first; ONNX's recurrent ops are time-major. The exporters wrap
them in transposes (`Transpose(1,0,2) → LSTM → Transpose(0,2,1,3) → Reshape → Transpose(1,0,2)`,
or Squeeze for one direction); those are followed as *views* of the one Workbench node rather
than mapped, so the graph shows just the LSTM. Weights are reordered from ONNX's gate order
(LSTM i o f c, GRU z r h) to torch's (i f g o, r z n).
"""
from __future__ import annotations

import numpy as np

from workbench.importers.onnx_common import Unmapped, attrs


class RecurrentOps:
    """Mixed into onnx_ops.Mapper."""

    def op_LSTM(self, node):
        self._recurrent(node, "LSTM", [0, 2, 3, 1], ("Sigmoid", "Tanh", "Tanh"))

    def op_GRU(self, node):
        if not attrs(node).get("linear_before_reset", 0):
            raise Unmapped("linear_before_reset=0 is not how torch's GRU computes")
        self._recurrent(node, "GRU", [1, 0, 2], ("Sigmoid", "Tanh"))

    def op_RNN(self, node):
        self._recurrent(node, "RNN", [0], ("Tanh",))

    def _recurrent(self, node, type: str, order: list[int], acts: tuple):
        a = attrs(node)
        direction = a.get("direction", "forward")
        if direction not in ("forward", "bidirectional"):
            raise Unmapped(f"direction {direction}")
        dirs = 2 if direction == "bidirectional" else 1
        if a.get("layout", 0) or a.get("clip") is not None or a.get("input_forget", 0):
            raise Unmapped("layout, clip or input_forget is set")
        if list(a.get("activations") or acts * dirs) != list(acts * dirs):
            raise Unmapped(f"activations {a.get('activations')}")
        ins = list(node.input) + [""] * 8
        x = ins[0]
        if x in self.views and self.views[x][0] == "TBH":   # stacked: the layer below, all steps
            self.time_major[x] = (self.views[x][1], "out")
        if x not in self.time_major:
            raise Unmapped("its input is not a batch-first tensor transposed to time-major")
        hidden = int(a["hidden_size"])
        W, R = self.const(ins[1], "W"), self.const(ins[2], "R")
        B = self.const(ins[3], "B") if ins[3] else np.zeros((dirs, 2 * W.shape[1]), np.float32)
        if ins[4]:
            lens = self.fold.consts.get(ins[4])
            steps = (self.dims(x) or (None,))[0]
            if lens is None or not isinstance(steps, int) or np.any(lens != steps):
                raise Unmapped("sequence_lens varies")
        for init in (ins[5], ins[6] if type == "LSTM" else "", ins[7] if type == "LSTM" else ""):
            if init and not self.fold.zeros(init):
                raise Unmapped("it starts from a given (non-zero) state or has peepholes")
        gates = len(order)

        def torch_order(m):
            blocks = np.split(np.asarray(m, np.float32), gates, axis=0)
            return np.concatenate([blocks[i] for i in order], axis=0)
        weights = {}
        for d in range(dirs):
            sfx = "_l0" + ("_reverse" if d else "")
            weights[f"rnn.weight_ih{sfx}"] = torch_order(W[d])
            weights[f"rnn.weight_hh{sfx}"] = torch_order(R[d])
            weights[f"rnn.bias_ih{sfx}"] = torch_order(B[d][: gates * hidden])
            weights[f"rnn.bias_hh{sfx}"] = torch_order(B[d][gates * hidden:])
        outs = list(node.output) + ["", "", ""]
        y_used = outs[0] in self.consumers or outs[0] in self.outputs
        h_used = outs[1] and (outs[1] in self.consumers or outs[1] in self.outputs)
        if (outs[2] and outs[2] in self.consumers) or (h_used and (y_used or dirs == 2)):
            raise Unmapped("its final cell or hidden state is read besides its outputs")
        last = bool(h_used)
        params = {"hidden_size": hidden, "bidirectional": dirs == 2, "return": "last" if last else "all"}
        nid = self.add(node, type, params, [self.time_major[x]], weights, out=False)
        if last:
            self.views[outs[1]] = ("Yh", nid, dirs, hidden)
        else:
            self.views[outs[0]] = ("Y", nid, dirs, hidden)

    def _real(self, node, view):
        nid = view[1]
        self.where[node.output[0]] = (nid, "out")
        if self.graph.nodes[nid].params["return"] == "all":
            self.lstm_all[node.output[0]] = nid

    def _lstm_view_transpose(self, node, perm):
        view = self.views[node.input[0]]
        if view[0] == "Y" and perm == [0, 2, 1, 3]:
            self.views[node.output[0]] = ("TBDH", *view[1:])
        elif view[0] == "TBH" and perm == [1, 0, 2]:
            self._real(node, view)
        elif view[0] == "Y" and perm == [2, 0, 1, 3] and view[2] == 1:
            self.views[node.output[0]] = ("BTDH", *view[1:])
        else:
            raise Unmapped(f"permutation {perm} of a recurrent layer's output")

    def _lstm_view_squeeze(self, node):
        view = self.views[node.input[0]]
        axes = attrs(node).get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "axes").reshape(-1).tolist()
        if node.op_type == "Squeeze" and view[2] == 1:
            if view[0] == "Y" and list(axes or []) == [1]:
                self.views[node.output[0]] = ("TBH", *view[1:])
                return
            if view[0] == "Yh" and list(axes or []) == [0]:
                return self._real(node, view)
            if view[0] == "BTDH" and list(axes or []) in ([2], [-2]):
                return self._real(node, view)
        raise Unmapped("an unexpected reshaping of a recurrent layer's output")

    def _lstm_view_reshape(self, node):
        view = self.views[node.input[0]]
        target = self.fold.dims(node.input[1])
        dh = view[2] * view[3]
        steps = (self.dims(node.input[0]) or (None,))[0]
        if view[0] == "TBDH" and target and len(target) == 3 and target[1] in ("batch", 0) \
                and target[2] in (dh, -1) and target[0] in (steps, 0, -1):
            self.views[node.output[0]] = ("TBH", *view[1:])
            return
        raise Unmapped("an unexpected reshaping of a recurrent layer's output")


