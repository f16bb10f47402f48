// trt_harness: drive a TensorRT IPluginV3 plugin library the way TensorRT and its ONNX parser do, without libnvinfer.
//
// Usage:
//   trt_harness <plugin.so> <case-file> [--reject]
//
//   <case-file>  plain text, format in case_file.h (plugin name/version/namespace, inputs with min/opt/max/run
//                shapes and raw input files, outputs with raw output files, optional `bad` extent).
//   (default)    the full build + runtime sequence; writes each output of the attached plugin to its file and
//                checks that a clone() of it produces identical bytes.
//   --reject     additionally checks that the `bad` extent is refused: configurePlugin with a profile containing it,
//                onShapeChange and enqueue with it, and enqueue on a fresh clone before any onShapeChange.
// Exit status: 0 PASS, 1 FAIL (reason on stdout), 2 usage or setup error. stdout is one fact per line.
//
// Sequence (see shared notes, tensorrt-plugins.md B4): dlopen -> getCreators (+ setLoggerFinder) -> creator by
// kind/name/version/namespace -> createPlugin(kBUILD) with the fields getFieldNames() advertises -> kind checks ->
// getNbOutputs/getOutputDataTypes -> getOutputShapes (own IExprBuilder, evaluated at min/opt/max/run) ->
// supportsFormatCombination per position (and a wrong dtype/format refused) -> configurePlugin -> getWorkspaceSize ->
// getFieldsToSerialize -> createPlugin(kRUNTIME) -> attachToContext -> onShapeChange -> enqueue -> clone() again.
//
// Build: nvcc -std=c++17 -Xcompiler -Wall,-Wextra,-Werror -isystem <TRT include> -cudart shared
//        -o trt_harness trt_harness.cpp -ldl
#include "case_file.h"
#include "expr_builder.h"

#include <NvInferRuntime.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace
{
using namespace harness;

struct Failure : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

void check(bool ok, std::string const& what)
{
    if (!ok)
    {
        throw Failure(what);
    }
}

void checkCuda(cudaError_t e, char const* what)
{
    if (e != cudaSuccess)
    {
        throw Failure(std::string(what) + ": " + cudaGetErrorString(e));
    }
}

class Logger final : public nvinfer1::ILogger
{
public:
    void log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept override
    {
        static char const* const names[] = {"INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"};
        std::fprintf(stderr, "[plugin %s] %s\n", names[static_cast<int>(severity)], msg);
    }
};

class LoggerFinder final : public nvinfer1::ILoggerFinder
{
public:
    nvinfer1::ILogger* findLogger() override
    {
        return &mLogger;
    }

private:
    Logger mLogger;
};

// What an execution context hands attachToContext(): a cudaMalloc allocator and an error recorder.
class Allocator final : public nvinfer1::IGpuAllocator
{
public:
    void* allocate(uint64_t size, uint64_t /*alignment*/, nvinfer1::AllocatorFlags /*flags*/) noexcept override
    {
        void* p = nullptr;
        return cudaMalloc(&p, size) == cudaSuccess ? p : nullptr;
    }
    bool deallocate(void* memory) noexcept override
    {
        return cudaFree(memory) == cudaSuccess;
    }
};

class ErrorRecorder final : public nvinfer1::IErrorRecorder
{
public:
    int32_t getNbErrors() const noexcept override
    {
        return static_cast<int32_t>(mErrors.size());
    }
    nvinfer1::ErrorCode getErrorCode(int32_t i) const noexcept override
    {
        return mErrors.at(static_cast<size_t>(i)).first;
    }
    ErrorDesc getErrorDesc(int32_t i) const noexcept override
    {
        return mErrors.at(static_cast<size_t>(i)).second.c_str();
    }
    bool hasOverflowed() const noexcept override
    {
        return false;
    }
    void clear() noexcept override
    {
        mErrors.clear();
    }
    bool reportError(nvinfer1::ErrorCode code, ErrorDesc desc) noexcept override
    {
        std::fprintf(stderr, "[error recorder] %d %s\n", static_cast<int>(code), desc);
        mErrors.emplace_back(code, desc);
        return false;
    }
    RefCount incRefCount() noexcept override
    {
        return ++mRefs;
    }
    RefCount decRefCount() noexcept override
    {
        return --mRefs;
    }

private:
    std::vector<std::pair<nvinfer1::ErrorCode, std::string>> mErrors;
    RefCount mRefs{0};
};

class ResourceContext final : public nvinfer1::IPluginResourceContext
{
public:
    nvinfer1::IGpuAllocator* getGpuAllocator() const noexcept override
    {
        return &mAllocator;
    }
    nvinfer1::IErrorRecorder* getErrorRecorder() const noexcept override
    {
        return &mRecorder;
    }

private:
    mutable Allocator mAllocator;
    mutable ErrorRecorder mRecorder;
};

struct DeviceBuffer
{
    void* ptr{nullptr};
    size_t bytes{0};
    explicit DeviceBuffer(size_t n)
        : bytes(n)
    {
        if (n > 0)
        {
            checkCuda(cudaMalloc(&ptr, n), "cudaMalloc");
            checkCuda(cudaMemset(ptr, 0, n), "cudaMemset");
        }
    }
    ~DeviceBuffer()
    {
        cudaFree(ptr);
    }
    DeviceBuffer(DeviceBuffer const&) = delete;
    DeviceBuffer& operator=(DeviceBuffer const&) = delete;
};

// Plugins are deleted through their virtual destructor (IVersionedInterface), before the library is closed.
using PluginPtr = std::unique_ptr<nvinfer1::IPluginV3>;

int64_t numel(Shape const& s)
{
    int64_t n = 1;
    for (int64_t d : s)
    {
        n *= d;
    }
    return n;
}

nvinfer1::Dims toDims(Shape const& s)
{
    check(s.size() <= static_cast<size_t>(nvinfer1::Dims::MAX_DIMS), "rank above Dims::MAX_DIMS");
    nvinfer1::Dims d{};
    d.nbDims = static_cast<int32_t>(s.size());
    for (size_t i = 0; i < s.size(); ++i)
    {
        d.d[i] = s[i];
    }
    return d;
}

template <typename T>
T* capability(nvinfer1::IPluginV3* plugin, nvinfer1::PluginCapabilityType type, char const* kind)
{
    nvinfer1::IPluginCapability* cap = plugin->getCapabilityInterface(type);
    check(cap != nullptr, std::string("no capability ") + kind);
    // TensorRT identifies interfaces by kind string, then static_casts; dynamic_cast across dlopen is unreliable.
    check(std::strcmp(cap->getInterfaceInfo().kind, kind) == 0 && cap->getInterfaceInfo().major == 1,
        std::string("capability kind is '") + cap->getInterfaceInfo().kind + "', expected '" + kind + "'");
    return static_cast<T*>(cap);
}

void checkPluginKind(nvinfer1::IPluginV3* plugin, char const* what)
{
    check(plugin != nullptr, std::string(what) + " returned nullptr");
    check(std::strcmp(plugin->getInterfaceInfo().kind, "PLUGIN") == 0, std::string(what) + ": kind is not PLUGIN");
}

// Points at which shapes are evaluated: every expression carries one value per point.
enum Point : size_t
{
    kMIN = 0,
    kOPT = 1,
    kMAX = 2,
    kRUN = 3,
    kBAD = 4
};
char const* const kPointNames[] = {"min", "opt", "max", "run", "bad"};

struct Library
{
    void* handle{nullptr};
    ~Library()
    {
        if (handle != nullptr)
        {
            dlclose(handle);
        }
    }
};

// Builds the field collection as the ONNX parser's loadFields does: only advertised names, missing ones skipped.
struct Fields
{
    std::vector<nvinfer1::PluginField> fields;
    std::vector<std::vector<char>> storage;
    nvinfer1::PluginFieldCollection fc{0, nullptr};

    Fields(nvinfer1::IPluginCreatorV3One* creator, Case const& c)
    {
        nvinfer1::PluginFieldCollection const* names = creator->getFieldNames();
        check(names != nullptr, "getFieldNames returned nullptr");
        storage.reserve(static_cast<size_t>(names->nbFields));
        for (int32_t i = 0; i < names->nbFields; ++i)
        {
            char const* name = names->fields[i].name;
            FieldCase const* given = nullptr;
            for (auto const& f : c.fields)
            {
                given = f.name == name ? &f : given;
            }
            if (given == nullptr)
            {
                std::cout << "field " << name << " advertised but not given (skipped, as the ONNX parser does)\n";
                continue;
            }
            add(*given);
        }
        fc.nbFields = static_cast<int32_t>(fields.size());
        fc.fields = fields.data();
    }

    void add(FieldCase const& f)
    {
        std::vector<char> bytes;
        int32_t length = 0;
        nvinfer1::PluginFieldType type{};
        if (f.type == "char")
        {
            bytes.assign(f.values.begin(), f.values.end());
            bytes.push_back('\0'); // the parser's kCHAR length counts the terminator
            length = static_cast<int32_t>(bytes.size());
            type = nvinfer1::PluginFieldType::kCHAR;
        }
        else
        {
            std::stringstream ss(f.values);
            for (std::string item; std::getline(ss, item, ',');)
            {
                char raw[4];
                if (f.type == "float32")
                {
                    float const v = std::stof(item);
                    std::memcpy(raw, &v, 4);
                }
                else
                {
                    int32_t const v = static_cast<int32_t>(std::stol(item));
                    std::memcpy(raw, &v, 4);
                }
                bytes.insert(bytes.end(), raw, raw + 4);
                ++length;
            }
            check(f.type == "float32" || f.type == "int32", "field type must be float32, int32 or char");
            type = f.type == "float32" ? nvinfer1::PluginFieldType::kFLOAT32 : nvinfer1::PluginFieldType::kINT32;
        }
        storage.push_back(std::move(bytes));
        fields.emplace_back(f.name.c_str(), storage.back().data(), type, length);
    }
};

struct Runner
{
    Case const& c;
    bool reject;
    int32_t nbIn;
    int32_t nbOut;
    size_t nbPoints;
    std::vector<std::vector<Shape>> outShapes; // [output][point]

    // Extent of input `i` axis `a` at point `p`.
    int64_t inputExtent(size_t i, size_t a, size_t p) const
    {
        InputCase const& ic = c.inputs[i];
        switch (p)
        {
        case kMIN: return ic.min[a];
        case kOPT: return ic.opt[a];
        case kMAX: return ic.max[a];
        case kBAD:
            return (static_cast<int32_t>(i) == c.badInput && static_cast<int32_t>(a) == c.badAxis) ? c.badValue
                                                                                                    : ic.run[a];
        default: return ic.run[a];
        }
    }

    Shape inputShape(size_t i, size_t p) const
    {
        Shape s(c.inputs[i].run.size());
        for (size_t a = 0; a < s.size(); ++a)
        {
            s[a] = inputExtent(i, a, p);
        }
        return s;
    }

    bool isStatic(size_t i, size_t a) const
    {
        bool const bad = reject && static_cast<int32_t>(i) == c.badInput && static_cast<int32_t>(a) == c.badAxis;
        return c.inputs[i].min[a] == c.inputs[i].max[a] && !bad;
    }

    void outputShapes(nvinfer1::IPluginV3OneBuild* build)
    {
        ExprBuilder builder(nbPoints);
        std::vector<nvinfer1::DimsExprs> in(static_cast<size_t>(nbIn));
        for (size_t i = 0; i < in.size(); ++i)
        {
            size_t const rank = c.inputs[i].run.size();
            in[i].nbDims = static_cast<int32_t>(rank);
            for (size_t a = 0; a < rank; ++a)
            {
                std::vector<int64_t> values(nbPoints);
                for (size_t p = 0; p < nbPoints; ++p)
                {
                    values[p] = inputExtent(i, a, p);
                }
                // Static extents are constants, runtime dims are not (TensorRT's own convention).
                in[i].d[a] = isStatic(i, a) ? builder.constant(values[0]) : builder.impl().variable(values);
            }
        }
        std::vector<nvinfer1::DimsExprs> out(static_cast<size_t>(nbOut));
        int32_t const rc
            = build->getOutputShapes(in.data(), nbIn, nullptr, 0, out.data(), nbOut, static_cast<nvinfer1::IExprBuilder&>(builder));
        check(rc == 0, "getOutputShapes returned " + std::to_string(rc));
        outShapes.assign(static_cast<size_t>(nbOut), std::vector<Shape>(nbPoints));
        for (size_t o = 0; o < out.size(); ++o)
        {
            check(out[o].nbDims >= 0 && out[o].nbDims <= nvinfer1::Dims::MAX_DIMS, "output rank out of range");
            for (int32_t a = 0; a < out[o].nbDims; ++a)
            {
                check(out[o].d[a] != nullptr, "getOutputShapes left output " + std::to_string(o) + " axis null");
                auto const* e = static_cast<DimExpr const*>(out[o].d[a]);
                for (size_t p = 0; p < nbPoints; ++p)
                {
                    outShapes[o][p].push_back(e->values()[p]);
                }
            }
            std::cout << "output " << o << " shape";
            for (size_t p = 0; p < nbPoints; ++p)
            {
                std::cout << " " << kPointNames[p] << "=" << shapeStr(outShapes[o][p]);
            }
            std::cout << "\n";
        }
    }

    std::vector<nvinfer1::DynamicPluginTensorDesc> buildDescs() const
    {
        std::vector<nvinfer1::DynamicPluginTensorDesc> descs(static_cast<size_t>(nbIn + nbOut));
        for (size_t t = 0; t < descs.size(); ++t)
        {
            bool const isIn = t < static_cast<size_t>(nbIn);
            size_t const o = t - static_cast<size_t>(nbIn);
            auto shape = [&](size_t p) { return isIn ? inputShape(t, p) : outShapes[o][p]; };
            auto& d = descs[t];
            d.min = toDims(shape(kMIN));
            d.opt = toDims(shape(kOPT));
            d.max = toDims(shape(kMAX));
            d.desc.dims = d.max;
            for (int32_t a = 0; a < d.max.nbDims; ++a)
            {
                d.desc.dims.d[a] = d.min.d[a] == d.max.d[a] ? d.max.d[a] : -1; // -1: decided at runtime
            }
            d.desc.type = isIn ? c.inputs[t].dtype.type : c.outputs[o].dtype.type;
            d.desc.format = nvinfer1::TensorFormat::kLINEAR;
            d.desc.scale = 1.0F;
        }
        return descs;
    }

    std::vector<nvinfer1::PluginTensorDesc> runDescs(size_t point) const
    {
        std::vector<nvinfer1::PluginTensorDesc> descs(static_cast<size_t>(nbIn + nbOut));
        for (size_t t = 0; t < descs.size(); ++t)
        {
            bool const isIn = t < static_cast<size_t>(nbIn);
            size_t const o = t - static_cast<size_t>(nbIn);
            descs[t].dims = toDims(isIn ? inputShape(t, point) : outShapes[o][point]);
            descs[t].type = isIn ? c.inputs[t].dtype.type : c.outputs[o].dtype.type;
            descs[t].format = nvinfer1::TensorFormat::kLINEAR;
            descs[t].scale = 1.0F;
        }
        return descs;
    }

    size_t tensorBytes(size_t t, size_t point) const
    {
        bool const isIn = t < static_cast<size_t>(nbIn);
        size_t const o = t - static_cast<size_t>(nbIn);
        Shape const s = isIn ? inputShape(t, point) : outShapes[o][point];
        return static_cast<size_t>(numel(s)) * (isIn ? c.inputs[t].dtype.itemsize : c.outputs[o].dtype.itemsize);
    }

    void checkFormats(nvinfer1::IPluginV3OneBuild* build)
    {
        auto descs = buildDescs();
        for (int32_t pos = 0; pos < nbIn + nbOut; ++pos)
        {
            check(build->supportsFormatCombination(pos, descs.data(), nbIn, nbOut),
                "supportsFormatCombination refused the case's dtype at pos " + std::to_string(pos));
            auto wrong = descs;
            auto const right = descs[static_cast<size_t>(pos)].desc.type;
            wrong[static_cast<size_t>(pos)].desc.type
                = right == nvinfer1::DataType::kFLOAT ? nvinfer1::DataType::kINT32 : nvinfer1::DataType::kFLOAT;
            check(!build->supportsFormatCombination(pos, wrong.data(), nbIn, nbOut),
                "supportsFormatCombination accepted a wrong dtype at pos " + std::to_string(pos));
            wrong = descs;
            wrong[static_cast<size_t>(pos)].desc.format = nvinfer1::TensorFormat::kHWC8;
            check(!build->supportsFormatCombination(pos, wrong.data(), nbIn, nbOut),
                "supportsFormatCombination accepted a non-linear format at pos " + std::to_string(pos));
        }
        std::cout << "formats ok " << nbIn + nbOut << " positions\n";
    }

    void checkDataTypes(nvinfer1::IPluginV3OneBuild* build)
    {
        std::vector<nvinfer1::DataType> in, out(static_cast<size_t>(nbOut));
        for (auto const& ic : c.inputs)
        {
            in.push_back(ic.dtype.type);
        }
        check(build->getOutputDataTypes(out.data(), nbOut, in.data(), nbIn) == 0, "getOutputDataTypes failed");
        for (size_t o = 0; o < out.size(); ++o)
        {
            check(out[o] == c.outputs[o].dtype.type, "output " + std::to_string(o) + " has DataType "
                    + std::to_string(static_cast<int>(out[o])) + ", the case says " + c.outputs[o].dtype.name);
        }
        if (nbIn > 0)
        {
            auto wrong = in;
            wrong[0] = in[0] == nvinfer1::DataType::kFLOAT ? nvinfer1::DataType::kINT32 : nvinfer1::DataType::kFLOAT;
            check(build->getOutputDataTypes(out.data(), nbOut, wrong.data(), nbIn) != 0,
                "getOutputDataTypes accepted a wrong input dtype");
        }
        std::cout << "datatypes ok\n";
    }

    // onShapeChange + enqueue at `point` on `plugin`, into `outs`; returns the first non-zero status.
    int32_t execute(nvinfer1::IPluginV3OneRuntime* rt, size_t point, std::vector<DeviceBuffer*> const& ins,
        std::vector<DeviceBuffer*> const& outs, DeviceBuffer& workspace, cudaStream_t stream, bool shapeChange = true)
    {
        auto descs = runDescs(point);
        if (shapeChange)
        {
            int32_t const rc = rt->onShapeChange(descs.data(), nbIn, descs.data() + nbIn, nbOut);
            if (rc != 0)
            {
                return rc;
            }
        }
        std::vector<void const*> inPtrs;
        std::vector<void*> outPtrs;
        for (auto* b : ins)
        {
            inPtrs.push_back(b->ptr);
        }
        for (auto* b : outs)
        {
            outPtrs.push_back(b->ptr);
        }
        int32_t const rc
            = rt->enqueue(descs.data(), descs.data() + nbIn, inPtrs.data(), outPtrs.data(), workspace.ptr, stream);
        checkCuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize after enqueue");
        checkCuda(cudaGetLastError(), "after enqueue");
        return rc;
    }
};

std::vector<char> readFile(std::string const& path, size_t expected)
{
    std::ifstream in(path, std::ios::binary);
    check(static_cast<bool>(in), "cannot read input file '" + path + "'");
    std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    check(data.size() == expected,
        "'" + path + "' has " + std::to_string(data.size()) + " bytes, expected " + std::to_string(expected));
    return data;
}

std::vector<char> download(DeviceBuffer const& b)
{
    std::vector<char> host(b.bytes);
    if (b.bytes > 0)
    {
        checkCuda(cudaMemcpy(host.data(), b.ptr, b.bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    }
    return host;
}

void writeFile(std::string const& path, std::vector<char> const& bytes)
{
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    check(static_cast<bool>(f), "cannot write '" + path + "'");
}

void run(std::string const& soPath, std::string const& casePath, bool reject)
{
    Case const c = readCase(casePath);
    check(!reject || c.hasBad, "--reject needs a 'bad' line in the case file");

    // 1. Load the library and its entry points, as IPluginRegistry::loadLibrary does.
    Library lib;
    lib.handle = dlopen(soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib.handle == nullptr)
    {
        throw Failure(std::string("dlopen: ") + dlerror());
    }
    using GetCreators = nvinfer1::IPluginCreatorInterface* const* (*) (int32_t&);
    using SetLoggerFinder = void (*)(nvinfer1::ILoggerFinder*);
    auto getCreators = reinterpret_cast<GetCreators>(dlsym(lib.handle, "getCreators"));
    if (getCreators == nullptr)
    {
        getCreators = reinterpret_cast<GetCreators>(dlsym(lib.handle, "getPluginCreators")); // deprecated alias
    }
    check(getCreators != nullptr, "the library exports no getCreators");
    static LoggerFinder finder; // outlives the library's last log call
    if (auto setLoggerFinder = reinterpret_cast<SetLoggerFinder>(dlsym(lib.handle, "setLoggerFinder")))
    {
        setLoggerFinder(&finder);
    }

    // 2. The creator, matched like IPluginRegistry::getCreator(name, version, namespace).
    int32_t nbCreators = 0;
    nvinfer1::IPluginCreatorInterface* const* creators = getCreators(nbCreators);
    nvinfer1::IPluginCreatorV3One* creator = nullptr;
    for (int32_t i = 0; i < nbCreators && creators != nullptr; ++i)
    {
        nvinfer1::InterfaceInfo const info = creators[i]->getInterfaceInfo();
        if (std::strcmp(info.kind, "PLUGIN CREATOR_V3ONE") != 0 || info.major != 1)
        {
            continue;
        }
        auto* cr = static_cast<nvinfer1::IPluginCreatorV3One*>(creators[i]);
        if (c.plugin == cr->getPluginName() && c.version == cr->getPluginVersion() && c.ns == cr->getPluginNamespace())
        {
            creator = cr;
        }
    }
    check(creator != nullptr,
        "no V3One creator '" + c.plugin + "' version '" + c.version + "' namespace '" + c.ns + "' among "
            + std::to_string(nbCreators) + " creators");
    std::cout << "creator " << c.plugin << " " << c.version << " '" << c.ns << "'\n";

    // 3. Build-phase plugin from the advertised fields.
    Fields fields(creator, c);
    PluginPtr buildPlugin(creator->createPlugin(c.layer.c_str(), &fields.fc, nvinfer1::TensorRTPhase::kBUILD));
    checkPluginKind(buildPlugin.get(), "createPlugin(kBUILD)");
    auto* core = capability<nvinfer1::IPluginV3OneCore>(
        buildPlugin.get(), nvinfer1::PluginCapabilityType::kCORE, "PLUGIN_V3ONE_CORE");
    check(c.plugin == core->getPluginName() && c.version == core->getPluginVersion()
            && c.ns == core->getPluginNamespace(),
        "the plugin's name/version/namespace differ from its creator's");
    auto* build = capability<nvinfer1::IPluginV3OneBuild>(
        buildPlugin.get(), nvinfer1::PluginCapabilityType::kBUILD, "PLUGIN_V3ONE_BUILD");
    auto* buildRt = capability<nvinfer1::IPluginV3OneRuntime>(
        buildPlugin.get(), nvinfer1::PluginCapabilityType::kRUNTIME, "PLUGIN_V3ONE_RUNTIME");

    // 4-7. Build-time queries.
    Runner r{c, reject, static_cast<int32_t>(c.inputs.size()), build->getNbOutputs(), reject ? 5U : 4U, {}};
    check(r.nbOut == static_cast<int32_t>(c.outputs.size()),
        "getNbOutputs is " + std::to_string(r.nbOut) + ", the case lists " + std::to_string(c.outputs.size()));
    r.checkDataTypes(build);
    r.outputShapes(build);
    r.checkFormats(build);
    auto descs = r.buildDescs();
    check(build->configurePlugin(descs.data(), r.nbIn, descs.data() + r.nbIn, r.nbOut) == 0, "configurePlugin failed");
    size_t const workspaceBytes = build->getWorkspaceSize(descs.data(), r.nbIn, descs.data() + r.nbIn, r.nbOut);
    std::cout << "workspace " << workspaceBytes << "\n";
    if (reject)
    {
        auto bad = descs;
        auto& d = bad[static_cast<size_t>(c.badInput)];
        int64_t& slot = c.badValue > d.max.d[c.badAxis] ? d.max.d[c.badAxis] : d.min.d[c.badAxis];
        slot = c.badValue;
        d.opt.d[c.badAxis] = c.badValue;
        check(build->configurePlugin(bad.data(), r.nbIn, bad.data() + r.nbIn, r.nbOut) != 0,
            "configurePlugin accepted a profile with the bad extent");
        std::cout << "reject configurePlugin ok\n";
    }

    // 8. Serialization round trip: the engine stores getFieldsToSerialize(), the runtime recreates the plugin from it
    //    and every execution context works on attachToContext()'s clone.
    nvinfer1::PluginFieldCollection const* serialized = buildRt->getFieldsToSerialize();
    check(serialized != nullptr, "getFieldsToSerialize returned nullptr");
    PluginPtr runtimePlugin(creator->createPlugin(c.layer.c_str(), serialized, nvinfer1::TensorRTPhase::kRUNTIME));
    checkPluginKind(runtimePlugin.get(), "createPlugin(kRUNTIME)");
    auto* runtimeRt = capability<nvinfer1::IPluginV3OneRuntime>(
        runtimePlugin.get(), nvinfer1::PluginCapabilityType::kRUNTIME, "PLUGIN_V3ONE_RUNTIME");
    ResourceContext resources;
    PluginPtr ctxPlugin(runtimeRt->attachToContext(&resources));
    checkPluginKind(ctxPlugin.get(), "attachToContext");
    check(ctxPlugin.get() != runtimePlugin.get(), "attachToContext must return a new object (a clone)");
    auto* ctxRt = capability<nvinfer1::IPluginV3OneRuntime>(
        ctxPlugin.get(), nvinfer1::PluginCapabilityType::kRUNTIME, "PLUGIN_V3ONE_RUNTIME");

    // 9. Real buffers and enqueue. Workspace as the engine would give it: sized by getWorkspaceSize at the profile.
    cudaStream_t stream = nullptr;
    checkCuda(cudaStreamCreate(&stream), "cudaStreamCreate");
    std::vector<std::unique_ptr<DeviceBuffer>> ins, outs, cloneOuts;
    for (size_t i = 0; i < c.inputs.size(); ++i)
    {
        ins.push_back(std::make_unique<DeviceBuffer>(r.tensorBytes(i, kRUN)));
        if (!c.inputs[i].file.empty())
        {
            std::vector<char> host = readFile(c.inputs[i].file, ins.back()->bytes);
            checkCuda(cudaMemcpy(ins.back()->ptr, host.data(), host.size(), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
        }
    }
    for (size_t o = 0; o < c.outputs.size(); ++o)
    {
        outs.push_back(std::make_unique<DeviceBuffer>(r.tensorBytes(c.inputs.size() + o, kRUN)));
        cloneOuts.push_back(std::make_unique<DeviceBuffer>(r.tensorBytes(c.inputs.size() + o, kRUN)));
    }
    DeviceBuffer workspace(workspaceBytes);
    auto raw = [](std::vector<std::unique_ptr<DeviceBuffer>> const& v) {
        std::vector<DeviceBuffer*> out;
        for (auto const& b : v)
        {
            out.push_back(b.get());
        }
        return out;
    };
    int32_t rc = r.execute(ctxRt, kRUN, raw(ins), raw(outs), workspace, stream);
    check(rc == 0, "onShapeChange/enqueue on the attached plugin returned " + std::to_string(rc));
    std::cout << "enqueue ok\n";

    // A clone must be complete on its own: fresh state, same results.
    PluginPtr clonePlugin(ctxPlugin->clone());
    checkPluginKind(clonePlugin.get(), "clone");
    auto* cloneRt = capability<nvinfer1::IPluginV3OneRuntime>(
        clonePlugin.get(), nvinfer1::PluginCapabilityType::kRUNTIME, "PLUGIN_V3ONE_RUNTIME");
    if (reject)
    {
        rc = r.execute(cloneRt, kRUN, raw(ins), raw(cloneOuts), workspace, stream, /*shapeChange=*/false);
        check(rc != 0, "enqueue before any onShapeChange succeeded (state must be created in onShapeChange)");
        std::cout << "reject enqueue-before-onShapeChange ok\n";
    }
    rc = r.execute(cloneRt, kRUN, raw(ins), raw(cloneOuts), workspace, stream);
    check(rc == 0, "onShapeChange/enqueue on the clone returned " + std::to_string(rc));
    for (size_t o = 0; o < outs.size(); ++o)
    {
        if (c.deterministic)
        {
            check(download(*outs[o]) == download(*cloneOuts[o]), "clone output " + std::to_string(o) + " differs");
        }
        if (!c.outputs[o].file.empty())
        {
            writeFile(c.outputs[o].file, download(*outs[o]));
            if (!c.deterministic)
            {
                writeFile(c.outputs[o].file + ".clone", download(*cloneOuts[o]));
            }
        }
        std::cout << "output " << o << " written " << outs[o]->bytes << " bytes\n";
    }
    std::cout << "clone ok\n";

    if (reject)
    {
        // Buffers big enough for the bad shapes, so a plugin that wrongly launches cannot corrupt memory.
        std::vector<std::unique_ptr<DeviceBuffer>> badIns, badOuts;
        for (size_t t = 0; t < c.inputs.size() + c.outputs.size(); ++t)
        {
            auto& v = t < c.inputs.size() ? badIns : badOuts;
            v.push_back(std::make_unique<DeviceBuffer>(std::max(r.tensorBytes(t, kBAD), r.tensorBytes(t, kRUN))));
        }
        DeviceBuffer bigWorkspace(workspaceBytes * 4 + (1 << 20));
        auto badDescs = r.runDescs(kBAD);
        check(ctxRt->onShapeChange(badDescs.data(), r.nbIn, badDescs.data() + r.nbIn, r.nbOut) != 0,
            "onShapeChange accepted the bad extent");
        std::cout << "reject onShapeChange ok\n";
        rc = r.execute(ctxRt, kBAD, raw(badIns), raw(badOuts), bigWorkspace, stream, /*shapeChange=*/false);
        check(rc != 0, "enqueue accepted the bad extent");
        std::cout << "reject enqueue ok\n";
    }
    checkCuda(cudaStreamDestroy(stream), "cudaStreamDestroy");
}
} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    bool reject = false;
    if (!args.empty() && args.back() == "--reject")
    {
        reject = true;
        args.pop_back();
    }
    if (args.size() != 2)
    {
        std::fprintf(stderr, "usage: %s <plugin.so> <case-file> [--reject]\n", argv[0]);
        return 2;
    }
    try
    {
        run(args[0], args[1], reject);
    }
    catch (Failure const& e)
    {
        std::cout << "FAIL: " << e.what() << std::endl;
        return 1;
    }
    catch (std::exception const& e)
    {
        std::cout << "ERROR: " << e.what() << std::endl;
        return 2;
    }
    std::cout << "PASS" << std::endl;
    return 0;
}
