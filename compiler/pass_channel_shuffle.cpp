// Pass: ShuffleNet's channel shuffle as torch.onnx writes it,
//   Reshape [N, C, H, W] -> [N, g, C/g, H, W], Transpose perm {0, 2, 1, 3, 4} (a Rearrange by now),
//   Reshape -> [N, C, H, W],
// becomes one ChannelGather with channels[c] = (c % g) * (C / g) + c / g (a GDMA copy once
// quantized). The intermediate tensors must feed nothing else.
#include <algorithm>

#include "compiler/canonicalize.h"

namespace tpusim::compiler {

int fuse_channel_shuffle(Graph& g) {
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& t = g.nodes[i];
    if (t.op != Op::Rearrange) continue;
    const auto& ra = t.attr<RearrangeAttrs>();
    if (ra.kind != RearrangeAttrs::Kind::Transpose || ra.perm != std::vector<int64_t>{0, 2, 1, 3, 4})
      continue;
    const Node* r1 = g.producer(t.input(0));
    const auto users = g.consumers(t.outputs[0]);
    if (!r1 || r1->op != Op::Reshape || users.size() != 1 || users[0]->op != Op::Reshape) continue;
    if (g.consumers(r1->outputs[0]).size() != 1) continue;
    const Shape& x = g.tensor(r1->input(0)).shape;
    const Shape& mid = g.tensor(r1->outputs[0]).shape;
    const Node* r2 = users[0];
    if (x.size() != 4 || g.tensor(r2->outputs[0]).shape != x || mid.size() != 5 || mid[0] != x[0] ||
        mid[1] * mid[2] != x[1] || mid[3] != x[2] || mid[4] != x[3])
      continue;
    const int64_t groups = mid[1], per = mid[2];
    GatherAttrs ga;
    for (int64_t c = 0; c < x[1]; ++c) ga.channels.push_back((c % groups) * per + c / groups);
    Node shuffle;
    shuffle.name = t.name;
    shuffle.op = Op::ChannelGather;
    shuffle.inputs = {r1->input(0)};
    shuffle.outputs = {r2->outputs[0]};
    shuffle.attrs = ga;
    const std::string dead1 = r1->outputs[0], dead2 = t.outputs[0], r2_out = r2->outputs[0];
    g.nodes.erase(std::remove_if(g.nodes.begin(), g.nodes.end(),
                                 [&](const Node& n) {
                                   return n.outputs[0] == dead1 || n.outputs[0] == dead2 ||
                                          n.outputs[0] == r2_out;
                                 }),
                  g.nodes.end());
    g.tensors.erase(dead1);
    g.tensors.erase(dead2);
    g.nodes.push_back(std::move(shuffle));
    g.topo_sort();
    i = 0;
    ++fused;
  }
  return fused;
}

}  // namespace tpusim::compiler
