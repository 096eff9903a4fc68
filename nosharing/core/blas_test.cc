#include "nosharing/core/blas.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace nosharing {
namespace blas_test {  // named, not anonymous: the tests compile in unity batches

// Restores the process's float GEMM backend after a test that switches it.
class SgemmBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = sgemm_backend(); }
  void TearDown() override { set_sgemm_backend(saved_); }

 private:
  SgemmBackend saved_ = SgemmBackend::kOneDnn;
};

// C (row-major, rows ldc apart) = op(A)·op(B) [+ C] through the wrapper, on each backend, and
// in float64 through LibTorch as the truth: transposes, row strides wider than the rows,
// accumulation, and the kernels' degenerate sizes (k = 1, one row).
TEST_F(SgemmBackendTest, BothBackendsComputeTheSameProducts) {
  torch::manual_seed(3);
  struct Case {
    bool ta, tb;
    int64_t m, n, k;
    bool accumulate;
  };
  const Case cases[] = {{false, false, 64, 128, 75, false}, {false, true, 64, 75, 128, false},
                        {true, false, 75, 128, 64, true},   {false, false, 1, 7, 1, false},
                        {true, true, 5, 3, 9, true},        {false, false, 33, 17, 130, true},
                        {false, true, 128, 160, 130, true}};
  for (const Case& c : cases) {
    const int64_t pad = 3;  // every matrix's rows pad elements wider than needed
    const torch::Tensor a_full = torch::randn({c.ta ? c.k : c.m, (c.ta ? c.m : c.k) + pad});
    const torch::Tensor b_full = torch::randn({c.tb ? c.n : c.k, (c.tb ? c.k : c.n) + pad});
    const torch::Tensor c_start = torch::randn({c.m, c.n + pad});
    const torch::Tensor a = a_full.narrow(1, 0, c.ta ? c.m : c.k);
    const torch::Tensor b = b_full.narrow(1, 0, c.tb ? c.k : c.n);
    torch::Tensor expected = (c.ta ? a.t() : a).to(torch::kFloat64).mm(
        (c.tb ? b.t() : b).to(torch::kFloat64));
    if (c.accumulate) expected += c_start.narrow(1, 0, c.n).to(torch::kFloat64);
    for (const SgemmBackend backend : {SgemmBackend::kOneDnn, SgemmBackend::kOpenBlas}) {
      set_sgemm_backend(backend);
      torch::Tensor out = c_start.clone();
      gemm(c.ta ? CblasTrans : CblasNoTrans, c.tb ? CblasTrans : CblasNoTrans, c.m, c.n, c.k,
           a_full.data_ptr<float>(), a_full.size(1), b_full.data_ptr<float>(), b_full.size(1),
           out.data_ptr<float>(), out.size(1), c.accumulate);
      EXPECT_TRUE(torch::allclose(out.narrow(1, 0, c.n).to(torch::kFloat64), expected, 1e-4, 1e-4))
          << sgemm_backend_name(backend) << " m " << c.m << " n " << c.n << " k " << c.k;
      // The padding columns of C are left alone.
      EXPECT_TRUE(torch::equal(out.narrow(1, c.n, pad), c_start.narrow(1, c.n, pad)))
          << sgemm_backend_name(backend);
    }
  }
}

TEST(SgemmBackendNameTest, NamesParseAndABadOneIsRefused) {
  EXPECT_EQ(sgemm_backend_from_name(nullptr), SgemmBackend::kOneDnn);
  EXPECT_EQ(sgemm_backend_from_name(""), SgemmBackend::kOneDnn);
  EXPECT_EQ(sgemm_backend_from_name("onednn"), SgemmBackend::kOneDnn);
  EXPECT_EQ(sgemm_backend_from_name("openblas"), SgemmBackend::kOpenBlas);
  try {
    sgemm_backend_from_name("mkl");
    ADD_FAILURE() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("NOSHARING_SGEMM: 'mkl'"),
              std::string::npos);
  }
}

}  // namespace blas_test
}  // namespace nosharing
