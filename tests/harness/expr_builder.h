// A concrete IExprBuilder for the libnvinfer-free harness.
//
// IExprBuilder and IDimensionExpr are pimpl wrappers: their public methods forward inline to a protected
// apiv::VExprBuilder / apiv::VDimensionExpr `mImpl`. Without libnvinfer we supply those implementations ourselves
// (what TensorRT does internally). Instead of symbolic algebra, every expression carries one value per evaluation
// point (min, opt, max, runtime, ...), so a single getOutputShapes call yields the output shapes at all points.
#pragma once
#include <NvInferRuntime.h>

#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

namespace harness
{

class DimExpr;

class DimExprImpl final : public nvinfer1::apiv::VDimensionExpr
{
public:
    DimExprImpl(std::vector<int64_t> values, bool constant, bool sizeTensor)
        : mValues(std::move(values))
        , mConstant(constant)
        , mSizeTensor(sizeTensor)
    {
    }
    bool isConstant() const override
    {
        return mConstant;
    }
    // TensorRT's documented value for a non-constant expression.
    int64_t getConstantValue() const override
    {
        return mConstant ? mValues.front() : std::numeric_limits<int64_t>::min();
    }
    bool isSizeTensor() const override
    {
        return mSizeTensor;
    }

    std::vector<int64_t> mValues;
    bool mConstant;
    bool mSizeTensor;
};

// The public face the plugin sees; its constructor wires mImpl, the only way to make a usable IDimensionExpr.
class DimExpr final : public nvinfer1::IDimensionExpr
{
public:
    DimExpr(std::vector<int64_t> values, bool constant, bool sizeTensor = false)
        : mOwn(std::move(values), constant, sizeTensor)
    {
        mImpl = &mOwn;
    }
    ~DimExpr() noexcept override = default;
    std::vector<int64_t> const& values() const
    {
        return mOwn.mValues;
    }

private:
    DimExprImpl mOwn;
};

// Python floor semantics, as TensorRT documents kFLOOR_DIV / kCEIL_DIV.
inline int64_t floorDiv(int64_t a, int64_t b)
{
    int64_t const q = a / b;
    return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}

class ExprBuilderImpl final : public nvinfer1::apiv::VExprBuilder
{
public:
    explicit ExprBuilderImpl(size_t nbPoints)
        : mNbPoints(nbPoints)
    {
    }

    nvinfer1::IDimensionExpr const* constant(int64_t value) override
    {
        return &mPool.emplace_back(std::vector<int64_t>(mNbPoints, value), true);
    }

    // A runtime dim: not constant, even if some points agree.
    DimExpr const* variable(std::vector<int64_t> values)
    {
        return &mPool.emplace_back(std::move(values), false);
    }

    nvinfer1::IDimensionExpr const* operation(nvinfer1::DimensionOperation op, nvinfer1::IDimensionExpr const& first,
        nvinfer1::IDimensionExpr const& second) override
    {
        // Every expression the plugin sees was made here, so the downcast is safe.
        auto const& a = static_cast<DimExpr const&>(first);
        auto const& b = static_cast<DimExpr const&>(second);
        std::vector<int64_t> out(mNbPoints);
        for (size_t p = 0; p < mNbPoints; ++p)
        {
            int64_t const x = a.values()[p];
            int64_t const y = b.values()[p];
            using Op = nvinfer1::DimensionOperation;
            switch (op)
            {
            case Op::kSUM: out[p] = x + y; break;
            case Op::kPROD: out[p] = x * y; break;
            case Op::kMAX: out[p] = x > y ? x : y; break;
            case Op::kMIN: out[p] = x < y ? x : y; break;
            case Op::kSUB: out[p] = x - y; break;
            case Op::kEQUAL: out[p] = x == y ? 1 : 0; break;
            case Op::kLESS: out[p] = x < y ? 1 : 0; break;
            case Op::kFLOOR_DIV:
                if (y == 0)
                {
                    return nullptr;
                }
                out[p] = floorDiv(x, y);
                break;
            case Op::kCEIL_DIV:
                if (y == 0)
                {
                    return nullptr;
                }
                out[p] = -floorDiv(-x, y);
                break;
            default: return nullptr;
            }
        }
        return &mPool.emplace_back(std::move(out), first.isConstant() && second.isConstant());
    }

    // Data-dependent output size: take the upper bound at every point (the harness sizes buffers with it).
    nvinfer1::IDimensionExpr const* declareSizeTensor(
        int32_t /*outputIndex*/, nvinfer1::IDimensionExpr const& /*opt*/, nvinfer1::IDimensionExpr const& upper) override
    {
        auto const& u = static_cast<DimExpr const&>(upper);
        return &mPool.emplace_back(u.values(), false, true);
    }

private:
    size_t mNbPoints;
    std::deque<DimExpr> mPool; // deque: stable addresses; expressions live as long as the builder
};

class ExprBuilder final : public nvinfer1::IExprBuilder
{
public:
    explicit ExprBuilder(size_t nbPoints)
        : mOwn(nbPoints)
    {
        mImpl = &mOwn;
    }
    ~ExprBuilder() noexcept override = default;
    ExprBuilderImpl& impl()
    {
        return mOwn;
    }

private:
    ExprBuilderImpl mOwn;
};

} // namespace harness
