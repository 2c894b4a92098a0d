// The model zoo: specs (shapes, MACs, validation messages) and the FP32 libtorch network built
// from them (parameter names, forward shapes, BN folding against the BN formula by hand).
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "base/error.h"
#include "models/model_spec.h"
#include "models/net.h"

using namespace tpusim;
using namespace tpusim::models;

TEST_CASE("the zoo's models have valid specs") {
  REQUIRE(model_names() == std::vector<std::string>{"lenet5", "resnet8", "mobilenet", "mlp", "vit_tiny"});
  for (const std::string& n : model_names()) {
    const ModelSpec m = model_spec(n);
    CHECK(m.layers.back().kind == LayerKind::Linear);
    CHECK(m.shapes().back().c == 10);
    CHECK(m.weight_layers().size() >= 3);
  }
}

TEST_CASE("lenet5 shapes and MACs by hand") {
  const ModelSpec m = model_spec("lenet5");
  const auto s = m.shapes();
  REQUIRE(s.size() == 7);
  CHECK((s[0].c == 32 && s[0].h == 28 && s[0].w == 28));
  CHECK((s[1].c == 32 && s[1].h == 14));
  CHECK((s[2].c == 64 && s[2].h == 14));
  CHECK((s[3].c == 64 && s[3].h == 7 && s[3].w == 7));
  CHECK(s[4].c == 64 * 7 * 7);
  CHECK(s[5].c == 128);
  // conv1 32*28*28*1*9, conv2 64*14*14*32*9, fc1 3136*128, fc2 128*10
  CHECK(m.macs() == 225792 + 3612672 + 401408 + 1280);
}

TEST_CASE("resnet8 has three residual adds and mobilenet depthwise convs") {
  const ModelSpec r = model_spec("resnet8");
  int adds = 0, convs = 0;
  for (const Layer& l : r.layers) {
    adds += l.kind == LayerKind::Add;
    convs += l.kind == LayerKind::Conv && l.kernel == 3;
  }
  CHECK(adds == 3);
  CHECK(convs == 7);                               // stem + 2 per block: with the FC, ResNet-8's eight layers
  CHECK(r.shapes()[r.layers.size() - 3].c == 64);  // the last add: 64 x 7 x 7
  const ModelSpec mb = model_spec("mobilenet");
  int dw = 0;
  for (const Layer& l : mb.layers) dw += l.groups > 1 && l.groups == l.in_ch && l.groups == l.out_ch;
  CHECK(dw == 3);
  // CIFAR-sized input works too.
  CHECK(model_spec("resnet8", 3, 32, 32, 10).shapes()[0].c == 16);
}

TEST_CASE("spec errors are one line naming the model and layer") {
  CHECK_THROWS_WITH(model_spec("vgg"),
                    "unknown model 'vgg' (known: lenet5, resnet8, mobilenet, mlp, vit_tiny)");
  CHECK_THROWS_WITH(model_spec("lenet5", 1, 2, 2), Catch::Contains("model 'lenet5': input 1x2x2"));
  ModelSpec m = model_spec("lenet5");
  m.layers[2].in_ch = 8;
  CHECK_THROWS_WITH(m.shapes(), "model 'lenet5': layer 'conv2' (Conv): expects 8 input channels, gets 32");
  m = model_spec("lenet5");
  m.layers[5].inputs = {3};
  CHECK_THROWS_WITH(m.shapes(), Catch::Contains("layer 'fc1' (Linear): input is not flat"));
  m = model_spec("resnet8");
  m.layers.back().out_ch = 7;
  CHECK_THROWS_WITH(m.shapes(), Catch::Contains("expected 10 class scores"));
}

TEST_CASE("Net: parameters named by layer, forward shapes") {
  torch::set_num_threads(1);
  torch::manual_seed(3);
  for (const std::string& n : model_names()) {
    Net net(model_spec(n));
    const auto& first = net->spec().layers[static_cast<size_t>(net->spec().weight_layers()[0])];
    CHECK(net->named_parameters().contains(first.name + ".weight"));
    CHECK(net->forward(torch::rand({3, 1, 28, 28})).sizes() == std::vector<int64_t>{3, 10});
    net->eval();
    CHECK(net->forward(torch::rand({2, 1, 28, 28})).sizes() == std::vector<int64_t>{2, 10});
  }
  Net net(model_spec("lenet5"));
  const auto p = net->named_parameters();
  for (const char* k : {"conv1.weight", "conv1.gamma", "conv1.beta", "fc2.weight", "fc2.bias"})
    CHECK(p.contains(k));
  CHECK(net->named_buffers().contains("conv2.running_var"));
}

TEST_CASE("BN folding equals the BN formula applied by hand") {
  torch::set_num_threads(1);
  torch::manual_seed(5);
  Net net(model_spec("lenet5"));
  net->eval();
  for (size_t i : {size_t{0}, size_t{2}, size_t{5}}) {
    auto p = net->params(i);
    const int64_t c = p->weight.size(0);
    torch::NoGradGuard g;
    p->gamma.copy_(torch::rand({c}) + 0.5);
    p->beta.copy_(torch::randn({c}));
    p->running_mean.copy_(torch::randn({c}));
    p->running_var.copy_(torch::rand({c}) + 0.1);
  }
  torch::NoGradGuard g;
  const torch::Tensor x = torch::rand({2, 1, 28, 28}, torch::kFloat64).to(torch::kFloat32);
  auto p = net->params(0);
  const torch::Tensor conv = torch::conv2d(x, p->weight, {}, 1, 1);
  const auto v = [](const torch::Tensor& t) { return t.view({1, -1, 1, 1}); };
  const torch::Tensor by_hand =
      (conv - v(p->running_mean)) / torch::sqrt(v(p->running_var) + 1e-5) * v(p->gamma) + v(p->beta);
  const auto [w, b] = net->folded(0);
  CHECK(torch::allclose(net->linear_op(0, x, w, b), by_hand, 1e-4, 1e-5));
  CHECK(torch::allclose(net->batchnorm(0, conv, false), by_hand, 1e-4, 1e-5));
  // A layer without BN folds to itself.
  const auto [w2, b2] = net->folded(6);
  CHECK(torch::equal(w2, net->params(6)->weight));
  CHECK(torch::equal(b2, net->params(6)->bias));
}

TEST_CASE("vit_tiny: token shapes, MACs, and the forward against a head-by-head formulation") {
  const ModelSpec m = model_spec("vit_tiny");
  const auto s = m.shapes();
  CHECK((s[0].c == 64 && s[0].h == 7 && !s[0].seq));  // 4x4 patches
  CHECK((s[1].c == 64 && s[1].h == 49 && s[1].seq));
  CHECK(s[2].h == 50);  // the class token
  CHECK((s[s.size() - 2].c == 64 && s[s.size() - 2].h == 1 && !s[s.size() - 2].seq));
  CHECK(m.transformer());
  // patch 64*49*16; per block q/k/v/proj 4*50*64*64, MLP 2*50*64*128, attention 2*50*50*64; head 64*10
  CHECK(m.macs() == 50176 + 4 * (819200 + 819200 + 320000) + 640);
  ModelSpec bad = m;
  bad.layers[8].heads = 3;  // b1_attn
  CHECK_THROWS_WITH(bad.shapes(), Catch::Contains("layer 'b1_attn' (Attention): 3 heads do not divide 64"));

  torch::set_num_threads(1);
  torch::manual_seed(11);
  Net net(m);
  net->eval();
  torch::NoGradGuard no_grad;
  for (auto& p : net->parameters()) p.add_(torch::randn(p.sizes()) * 0.05);  // LN gamma/beta off 1/0
  const torch::Tensor img = torch::rand({2, 1, 28, 28});
  auto lin = [&](const std::string& n, const torch::Tensor& x, double scale = 1.0) {
    const auto p = net->named_parameters();
    return (torch::matmul(x, p[n + ".weight"].t()) + p[n + ".bias"]) * scale;
  };
  auto ln = [&](const std::string& n, const torch::Tensor& x) {
    const auto p = net->named_parameters();
    const torch::Tensor mu = x.mean(-1, true), var = (x - mu).pow(2).mean(-1, true);
    return (x - mu) / torch::sqrt(var + 1e-5) * p[n + ".gamma"] + p[n + ".beta"];
  };
  const auto p = net->named_parameters();
  torch::Tensor x = torch::conv2d(img, p["patch.weight"], p["patch.bias"], 4).flatten(2).transpose(1, 2);
  x = torch::cat({p["cls.weight"].expand({2, 1, 64}), x}, 1) + p["pos.weight"];
  for (int b = 1; b <= 4; ++b) {
    const std::string k = "b" + std::to_string(b) + "_";
    const torch::Tensor n1 = ln(k + "ln1", x);
    const torch::Tensor q = lin(k + "q", n1, 0.25), kk = lin(k + "k", n1), v = lin(k + "v", n1);
    std::vector<torch::Tensor> heads;
    for (int h = 0; h < 4; ++h) {
      auto cols = [&](const torch::Tensor& t) { return t.slice(2, h * 16, h * 16 + 16); };
      heads.push_back(
          torch::matmul(torch::softmax(torch::matmul(cols(q), cols(kk).transpose(1, 2)), -1), cols(v)));
    }
    x = x + lin(k + "proj", torch::cat(heads, 2));
    x = x + lin(k + "fc2", torch::gelu(lin(k + "fc1", ln(k + "ln2", x))));
  }
  const torch::Tensor want = lin("head", ln("ln", x).select(1, 0));
  CHECK(torch::allclose(net->forward(img), want, 1e-4, 1e-5));
}
