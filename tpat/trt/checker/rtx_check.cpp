// rtx_check: prove that TensorRT's own plugin registry, ONNX parser and builder accept tpat plugins.
//
// Uses TensorRT for RTX (libtensorrt_rtx + libtensorrt_onnxparser_rtx, e.g. from the PyPI package
// onnxruntime-ep-nv-tensorrt-rtx-cu13), which builds engines ahead of time WITHOUT a GPU. Compiled against the
// TensorRT 11.x public headers (TRT-RTX follows the TensorRT 11 ABI: ILogger is an IVersionedInterface there), and
// loads both libraries with dlopen, so nothing is resolved at link time and no soname symlinks are needed.
//
// Sequence: loadLibrary(plugin.so) for each plugin -> builder/network/parser through the *_INTERNAL entry points with
// the libraries' own version numbers -> parse the rewritten ONNX model -> check that every expected plugin node became
// an IPluginV3 layer with the right name/version/namespace -> one optimisation profile -> buildSerializedNetwork.
// Optional --run: deserialize and execute the engine once (needs an Ampere/Ada/Blackwell GPU: TRT-RTX 1.7 refuses
// compute capability 9.0, Hopper).
//
// Only the parser path is used: INetworkDefinition::addPluginV3 through the 11.x headers crashes on TRT-RTX (its
// network vtable lacks addPluginV2/addPluginV3), so this program calls no network method past getOutput().
//
// Output: one record per line, "<tag> key=value ... [msg=free text to end of line]"; values have no spaces
// (empty values are written as key=). Exit codes below.

#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace
{

enum Exit : int
{
    kOK = 0,
    kUSAGE = 2,             // bad arguments, unreadable model, input without a profile
    kSETUP = 3,             // TensorRT-RTX libraries missing / builder, network or parser not created
    kREGISTER_FAILED = 4,   // a plugin library did not load, or registered no creator
    kIMPORT_FAILED = 5,     // the parser failed, or an expected plugin node is not a matching IPluginV3 layer
    kBUILD_FAILED = 6,      // buildSerializedNetwork returned nothing
    kRUN_FAILED = 7,        // --run: deserialize / execute failed
};

char const* exitName(int code)
{
    switch (code)
    {
    case kOK: return "ok";
    case kUSAGE: return "usage";
    case kSETUP: return "setup-failed";
    case kREGISTER_FAILED: return "register-failed";
    case kIMPORT_FAILED: return "import-failed";
    case kBUILD_FAILED: return "build-failed";
    case kRUN_FAILED: return "run-failed";
    default: return "unknown";
    }
}

// Values must not contain spaces or newlines (one record per line, space-separated fields).
std::string clean(char const* s)
{
    std::string out = s ? s : "";
    for (char& c : out)
    {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        {
            c = '_';
        }
    }
    return out;
}

// Free text (last field) may contain spaces but not newlines.
std::string oneLine(char const* s)
{
    std::string out = s ? s : "";
    for (char& c : out)
    {
        if (c == '\n' || c == '\r')
        {
            c = ' ';
        }
    }
    return out;
}

char const* severityName(nvinfer1::ILogger::Severity s)
{
    using S = nvinfer1::ILogger::Severity;
    switch (s)
    {
    case S::kINTERNAL_ERROR: return "internal-error";
    case S::kERROR: return "error";
    case S::kWARNING: return "warning";
    case S::kINFO: return "info";
    case S::kVERBOSE: return "verbose";
    }
    return "unknown";
}

// Prints errors and warnings always; info lines only when they concern plugins (the parser's "Searching for plugin"
// trail explains a failed import) or with --verbose; verbose lines only with --verbose.
class Logger : public nvinfer1::ILogger
{
public:
    bool verbose{false};
    int errors{0};
    std::string stage{"setup"};

    void log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept override
    {
        std::string text = oneLine(msg);
        bool const isError = severity <= Severity::kERROR;
        errors += isError ? 1 : 0;
        bool show = severity <= Severity::kWARNING || verbose;
        if (!show && severity == Severity::kINFO)
        {
            std::string lower = text;
            for (char& c : lower)
            {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            show = lower.find("plugin") != std::string::npos;
        }
        if (show)
        {
            std::printf("log stage=%s severity=%s msg=%s\n", stage.c_str(), severityName(severity), text.c_str());
            std::fflush(stdout);
        }
    }
};

struct Expect
{
    std::string node;
    std::string name;
    std::string version;
    std::string nspace;
};

struct Shape
{
    std::string input;
    nvinfer1::Dims min, opt, max;
};

bool parseDims(std::string const& text, nvinfer1::Dims& dims)
{
    // "1x8x128"; a scalar is "" (nbDims 0)
    dims.nbDims = 0;
    if (text.empty())
    {
        return true;
    }
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, 'x'))
    {
        if (item.empty() || dims.nbDims >= nvinfer1::Dims::MAX_DIMS)
        {
            return false;
        }
        char* end = nullptr;
        long long v = std::strtoll(item.c_str(), &end, 10);
        if (*end != '\0' || v < 0)
        {
            return false;
        }
        dims.d[dims.nbDims++] = v;
    }
    return true;
}

std::string dimsStr(nvinfer1::Dims const& d)
{
    std::string s = "[";
    for (int32_t i = 0; i < d.nbDims; ++i)
    {
        s += (i ? "," : "") + std::to_string(d.d[i]);
    }
    return s + "]";
}

std::vector<std::string> split(std::string const& s, char sep)
{
    std::vector<std::string> parts;
    std::string cur;
    for (char c : s)
    {
        if (c == sep)
        {
            parts.push_back(cur);
            cur.clear();
        }
        else
        {
            cur += c;
        }
    }
    parts.push_back(cur);
    return parts;
}

char const* dtypeName(nvinfer1::DataType t)
{
    using D = nvinfer1::DataType;
    switch (t)
    {
    case D::kFLOAT: return "float32";
    case D::kHALF: return "float16";
    case D::kINT8: return "int8";
    case D::kINT32: return "int32";
    case D::kBOOL: return "bool";
    case D::kUINT8: return "uint8";
    case D::kFP8: return "fp8";
    case D::kBF16: return "bfloat16";
    case D::kINT64: return "int64";
    case D::kINT4: return "int4";
    case D::kFP4: return "fp4";
    case D::kE8M0: return "e8m0";
    }
    return "unknown";
}

char const* errorCodeName(nvonnxparser::ErrorCode c)
{
    using E = nvonnxparser::ErrorCode;
    switch (c)
    {
    case E::kSUCCESS: return "SUCCESS";
    case E::kINTERNAL_ERROR: return "INTERNAL_ERROR";
    case E::kMEM_ALLOC_FAILED: return "MEM_ALLOC_FAILED";
    case E::kMODEL_DESERIALIZE_FAILED: return "MODEL_DESERIALIZE_FAILED";
    case E::kINVALID_VALUE: return "INVALID_VALUE";
    case E::kINVALID_GRAPH: return "INVALID_GRAPH";
    case E::kINVALID_NODE: return "INVALID_NODE";
    case E::kUNSUPPORTED_GRAPH: return "UNSUPPORTED_GRAPH";
    case E::kUNSUPPORTED_NODE: return "UNSUPPORTED_NODE";
    case E::kUNSUPPORTED_NODE_ATTR: return "UNSUPPORTED_NODE_ATTR";
    case E::kUNSUPPORTED_NODE_INPUT: return "UNSUPPORTED_NODE_INPUT";
    case E::kUNSUPPORTED_NODE_DATATYPE: return "UNSUPPORTED_NODE_DATATYPE";
    case E::kUNSUPPORTED_NODE_DYNAMIC: return "UNSUPPORTED_NODE_DYNAMIC";
    case E::kUNSUPPORTED_NODE_SHAPE: return "UNSUPPORTED_NODE_SHAPE";
    case E::kREFIT_FAILED: return "REFIT_FAILED";
    }
    return "UNKNOWN";
}

int finish(int code)
{
    std::printf("result status=%s exit=%d\n", exitName(code), code);
    std::fflush(stdout);
    return code;
}

void usage()
{
    std::fprintf(stderr,
        "usage: rtx_check --rtx-lib LIBTENSORRT_RTX --parser-lib LIBTENSORRT_ONNXPARSER_RTX --model MODEL.onnx\n"
        "                 [--plugin LIB.so]... [--expect NODE=NAME:VERSION:NAMESPACE]...\n"
        "                 [--shape INPUT=MIN:OPT:MAX]... (dims like 1x8x128) [--save-engine FILE] [--run] [--verbose]\n"
        "exit: 0 ok, 2 usage, 3 setup failed, 4 plugin failed to register, 5 parser could not import a node,\n"
        "      6 build failed, 7 run failed (--run)\n");
}

template <typename F>
F sym(void* lib, char const* name)
{
    return reinterpret_cast<F>(dlsym(lib, name));
}

// --run only: the CUDA runtime is dlopen'ed too, so the checker builds and runs without libcudart on CPU machines.
struct Cuda
{
    void* lib{nullptr};
    decltype(&cudaMalloc) malloc_{nullptr};
    decltype(&cudaFree) free_{nullptr};
    decltype(&cudaMemcpy) memcpy_{nullptr};
    decltype(&cudaStreamCreate) streamCreate{nullptr};
    decltype(&cudaStreamSynchronize) streamSync{nullptr};
    decltype(&cudaStreamDestroy) streamDestroy{nullptr};
    decltype(&cudaGetErrorString) errorString{nullptr};

    bool load(std::string& why)
    {
        for (char const* name : {"libcudart.so.13", "libcudart.so.12", "libcudart.so"})
        {
            lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
            if (lib)
            {
                break;
            }
        }
        if (!lib)
        {
            why = "cannot dlopen libcudart.so.13/12";
            return false;
        }
        malloc_ = sym<decltype(malloc_)>(lib, "cudaMalloc");
        free_ = sym<decltype(free_)>(lib, "cudaFree");
        memcpy_ = sym<decltype(memcpy_)>(lib, "cudaMemcpy");
        streamCreate = sym<decltype(streamCreate)>(lib, "cudaStreamCreate");
        streamSync = sym<decltype(streamSync)>(lib, "cudaStreamSynchronize");
        streamDestroy = sym<decltype(streamDestroy)>(lib, "cudaStreamDestroy");
        errorString = sym<decltype(errorString)>(lib, "cudaGetErrorString");
        if (!(malloc_ && free_ && memcpy_ && streamCreate && streamSync && streamDestroy && errorString))
        {
            why = "libcudart lacks an expected symbol";
            return false;
        }
        return true;
    }
};

size_t elementBits(nvinfer1::DataType t)
{
    using D = nvinfer1::DataType;
    switch (t)
    {
    case D::kINT64: return 64;
    case D::kFLOAT:
    case D::kINT32: return 32;
    case D::kHALF:
    case D::kBF16: return 16;
    case D::kINT4:
    case D::kFP4: return 4;
    default: return 8;
    }
}

// Every element = 1 in the tensor's type: valid as an index (OneHot, Gather/Scatter), a divisor (Mod) and data.
std::vector<uint8_t> ones(nvinfer1::DataType t, int64_t count)
{
    using D = nvinfer1::DataType;
    size_t const bytes = static_cast<size_t>((count * static_cast<int64_t>(elementBits(t)) + 7) / 8);
    std::vector<uint8_t> buf(bytes, 0);
    for (int64_t i = 0; i < count; ++i)
    {
        switch (t)
        {
        case D::kFLOAT: { float v = 1.0F; std::memcpy(&buf[i * 4], &v, 4); break; }
        case D::kINT32: { int32_t v = 1; std::memcpy(&buf[i * 4], &v, 4); break; }
        case D::kINT64: { int64_t v = 1; std::memcpy(&buf[i * 8], &v, 8); break; }
        case D::kHALF: { uint16_t v = 0x3C00; std::memcpy(&buf[i * 2], &v, 2); break; }
        case D::kBF16: { uint16_t v = 0x3F80; std::memcpy(&buf[i * 2], &v, 2); break; }
        case D::kINT8:
        case D::kUINT8:
        case D::kBOOL: buf[i] = 1; break;
        default: break; // sub-byte / fp8 types: zeros
        }
    }
    return buf;
}

double checksum(nvinfer1::DataType t, std::vector<uint8_t> const& buf, int64_t count)
{
    using D = nvinfer1::DataType;
    double sum = 0;
    for (int64_t i = 0; i < count; ++i)
    {
        switch (t)
        {
        case D::kFLOAT: { float v; std::memcpy(&v, &buf[i * 4], 4); sum += v; break; }
        case D::kINT32: { int32_t v; std::memcpy(&v, &buf[i * 4], 4); sum += v; break; }
        case D::kINT64: { int64_t v; std::memcpy(&v, &buf[i * 8], 8); sum += static_cast<double>(v); break; }
        case D::kINT8: sum += static_cast<int8_t>(buf[i]); break;
        case D::kUINT8:
        case D::kBOOL: sum += buf[i]; break;
        default: break;
        }
    }
    return sum;
}

int runEngine(void* rtxLib, int32_t version, Logger& logger, nvinfer1::IHostMemory const& plan,
    std::map<std::string, Shape> const& shapes)
{
    logger.stage = "run";
    Cuda cuda;
    std::string why;
    if (!cuda.load(why))
    {
        std::printf("run status=fail msg=%s\n", why.c_str());
        return kRUN_FAILED;
    }
    auto createRuntime = sym<void* (*) (void*, int32_t)>(rtxLib, "createInferRuntime_INTERNAL");
    if (!createRuntime)
    {
        std::printf("run status=fail msg=libtensorrt_rtx has no createInferRuntime_INTERNAL\n");
        return kRUN_FAILED;
    }
    std::unique_ptr<nvinfer1::IRuntime> runtime{static_cast<nvinfer1::IRuntime*>(createRuntime(&logger, version))};
    if (!runtime)
    {
        std::printf("run status=fail msg=createInferRuntime failed\n");
        return kRUN_FAILED;
    }
    std::unique_ptr<nvinfer1::ICudaEngine> engine{runtime->deserializeCudaEngine(plan.data(), plan.size())};
    if (!engine)
    {
        std::printf("run status=fail msg=deserializeCudaEngine failed (see the log lines above; TensorRT-RTX "
                    "refuses compute capability 9.0 / Hopper)\n");
        return kRUN_FAILED;
    }
    std::unique_ptr<nvinfer1::IExecutionContext> context{engine->createExecutionContext()};
    if (!context)
    {
        std::printf("run status=fail msg=createExecutionContext failed\n");
        return kRUN_FAILED;
    }
    struct Buffer
    {
        std::string name;
        nvinfer1::DataType type;
        nvinfer1::Dims dims;
        int64_t count;
        void* device;
    };
    std::vector<Buffer> buffers;
    int code = kOK;
    auto release = [&]() {
        for (auto& b : buffers)
        {
            cuda.free_(b.device);
        }
    };
    int32_t const n = engine->getNbIOTensors();
    // inputs first: their shapes decide the output shapes
    for (int pass = 0; pass < 2 && code == kOK; ++pass)
    {
        for (int32_t i = 0; i < n; ++i)
        {
            char const* name = engine->getIOTensorName(i);
            bool const isInput = engine->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT;
            if (isInput != (pass == 0))
            {
                continue;
            }
            nvinfer1::Dims dims = engine->getTensorShape(name);
            if (isInput)
            {
                auto it = shapes.find(name);
                if (it != shapes.end())
                {
                    dims = it->second.opt;
                }
                if (!context->setInputShape(name, dims))
                {
                    std::printf("run status=fail tensor=%s msg=setInputShape%s refused\n", clean(name).c_str(),
                        dimsStr(dims).c_str());
                    code = kRUN_FAILED;
                    break;
                }
            }
            else
            {
                dims = context->getTensorShape(name);
            }
            int64_t count = 1;
            for (int32_t k = 0; k < dims.nbDims; ++k)
            {
                count *= dims.d[k] < 0 ? 0 : dims.d[k];
            }
            Buffer b{name, engine->getTensorDataType(name), dims, count, nullptr};
            size_t const bytes = std::max<size_t>(1, (count * elementBits(b.type) + 7) / 8);
            cudaError_t err = cuda.malloc_(&b.device, bytes);
            if (err != cudaSuccess)
            {
                std::printf("run status=fail tensor=%s msg=cudaMalloc: %s\n", clean(name).c_str(),
                    cuda.errorString(err));
                code = kRUN_FAILED;
                break;
            }
            buffers.push_back(b);
            if (isInput)
            {
                auto host = ones(b.type, count);
                cuda.memcpy_(b.device, host.data(), host.size(), cudaMemcpyHostToDevice);
            }
            context->setTensorAddress(name, b.device);
        }
    }
    if (code != kOK)
    {
        release();
        return code;
    }
    cudaStream_t stream{};
    cuda.streamCreate(&stream);
    bool const ok = context->enqueueV3(stream);
    cudaError_t const err = cuda.streamSync(stream);
    cuda.streamDestroy(stream);
    if (!ok || err != cudaSuccess)
    {
        std::printf("run status=fail msg=enqueueV3 %s; stream: %s\n", ok ? "ok" : "failed", cuda.errorString(err));
        release();
        return kRUN_FAILED;
    }
    for (auto const& b : buffers)
    {
        if (engine->getTensorIOMode(b.name.c_str()) != nvinfer1::TensorIOMode::kOUTPUT)
        {
            continue;
        }
        std::vector<uint8_t> host((b.count * elementBits(b.type) + 7) / 8);
        cuda.memcpy_(host.data(), b.device, host.size(), cudaMemcpyDeviceToHost);
        std::printf("run-output name=%s dtype=%s dims=%s checksum=%.6g\n", clean(b.name.c_str()).c_str(),
            dtypeName(b.type), dimsStr(b.dims).c_str(), checksum(b.type, host, b.count));
    }
    release();
    std::printf("run status=ok inputs=ones\n");
    return kOK;
}

} // namespace

int main(int argc, char** argv)
{
    std::string rtxPath, parserPath, modelPath, enginePath;
    std::vector<std::string> plugins;
    std::vector<Expect> expects;
    std::map<std::string, Shape> shapes;
    bool run = false;
    Logger logger;

    for (int i = 1; i < argc; ++i)
    {
        std::string a = argv[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= argc)
            {
                std::fprintf(stderr, "rtx_check: %s needs a value\n", a.c_str());
                std::exit(finish(kUSAGE));
            }
            out = argv[++i];
        };
        std::string v;
        if (a == "--rtx-lib") value(rtxPath);
        else if (a == "--parser-lib") value(parserPath);
        else if (a == "--model") value(modelPath);
        else if (a == "--save-engine") value(enginePath);
        else if (a == "--plugin") { value(v); plugins.push_back(v); }
        else if (a == "--run") run = true;
        else if (a == "--verbose") logger.verbose = true;
        else if (a == "--expect")
        {
            value(v);
            auto eq = v.find('=');
            auto parts = split(eq == std::string::npos ? "" : v.substr(eq + 1), ':');
            if (eq == std::string::npos || parts.size() != 3)
            {
                std::fprintf(stderr, "rtx_check: --expect wants NODE=NAME:VERSION:NAMESPACE, got '%s'\n", v.c_str());
                return finish(kUSAGE);
            }
            expects.push_back({v.substr(0, eq), parts[0], parts[1], parts[2]});
        }
        else if (a == "--shape")
        {
            value(v);
            auto eq = v.rfind('=');
            Shape s;
            auto parts = split(eq == std::string::npos ? "" : v.substr(eq + 1), ':');
            if (eq == std::string::npos || parts.size() != 3 || !parseDims(parts[0], s.min)
                || !parseDims(parts[1], s.opt) || !parseDims(parts[2], s.max))
            {
                std::fprintf(stderr, "rtx_check: --shape wants INPUT=MIN:OPT:MAX with dims like 1x8x128, got '%s'\n",
                    v.c_str());
                return finish(kUSAGE);
            }
            s.input = v.substr(0, eq);
            shapes[s.input] = s;
        }
        else if (a == "-h" || a == "--help")
        {
            usage();
            return 0;
        }
        else
        {
            std::fprintf(stderr, "rtx_check: unknown argument '%s'\n", a.c_str());
            usage();
            return finish(kUSAGE);
        }
    }
    if (rtxPath.empty() || parserPath.empty() || modelPath.empty())
    {
        usage();
        return finish(kUSAGE);
    }
    if (!std::ifstream(modelPath).good())
    {
        std::printf("model path=%s status=fail msg=cannot read the model file\n", clean(modelPath.c_str()).c_str());
        return finish(kUSAGE);
    }

    // --- libraries ---------------------------------------------------------------------------------------------
    void* rtx = dlopen(rtxPath.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!rtx)
    {
        std::printf("library name=tensorrt_rtx status=fail msg=%s\n", oneLine(dlerror()).c_str());
        return finish(kSETUP);
    }
    // The RTX ONNX parser resolves addPluginV3 (private API) by dlopen("libtensorrt_rtx.so") — the unversioned name —
    // the first time it imports a plugin node; when that name does not resolve it calls std::terminate ("terminate
    // called without an active exception"). Check it here, and that it is the same copy as --rtx-lib.
    void* byName = dlopen("libtensorrt_rtx.so", RTLD_NOW | RTLD_GLOBAL);
    if (byName != rtx)
    {
        std::printf("library name=tensorrt_rtx status=fail msg=%s\n",
            byName ? "dlopen(\"libtensorrt_rtx.so\") finds another copy than --rtx-lib; the ONNX parser would use it: "
                     "put the folder of --rtx-lib first on LD_LIBRARY_PATH"
                   : "the ONNX parser dlopens \"libtensorrt_rtx.so\" by that exact name and it does not resolve: put a "
                     "folder holding libtensorrt_rtx.so (a symlink to --rtx-lib) on LD_LIBRARY_PATH");
        return finish(kSETUP);
    }
    void* parserLib = dlopen(parserPath.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!parserLib)
    {
        std::printf("library name=onnxparser_rtx status=fail msg=%s\n", oneLine(dlerror()).c_str());
        return finish(kSETUP);
    }
    auto getVersion = sym<int32_t (*)()>(rtx, "getInferLibVersion");
    auto createBuilder = sym<void* (*) (void*, int32_t)>(rtx, "createInferBuilder_INTERNAL");
    auto getRegistry = sym<nvinfer1::IPluginRegistry* (*) ()>(rtx, "getPluginRegistry");
    auto getParserVersion = sym<int (*)()>(parserLib, "getNvOnnxParserVersion");
    auto createParser = sym<void* (*) (void*, void*, int)>(parserLib, "createNvOnnxParser_INTERNAL");
    if (!getVersion || !createBuilder || !getRegistry || !getParserVersion || !createParser)
    {
        std::printf("library status=fail msg=an expected entry point is missing (getInferLibVersion, "
                    "createInferBuilder_INTERNAL, getPluginRegistry, getNvOnnxParserVersion, "
                    "createNvOnnxParser_INTERNAL)\n");
        return finish(kSETUP);
    }
    int32_t const version = getVersion();
    int const parserVersion = getParserVersion();
    std::printf("library name=tensorrt_rtx version=%d path=%s\n", version, clean(rtxPath.c_str()).c_str());
    std::printf("library name=onnxparser_rtx version=%d path=%s\n", parserVersion, clean(parserPath.c_str()).c_str());
    std::printf("headers version=%d.%d.%d\n", NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH);

    // --- plugins -----------------------------------------------------------------------------------------------
    int code = kOK;
    logger.stage = "register";
    nvinfer1::IPluginRegistry* registry = getRegistry();
    auto creatorKeys = [&]() {
        std::set<std::string> keys;
        int32_t n = 0;
        auto* const* all = registry->getAllCreators(&n);
        for (int32_t i = 0; all && i < n; ++i)
        {
            auto* c = all[i];
            if (!c)
            {
                continue;
            }
            std::string kind = c->getInterfaceInfo().kind;
            if (kind == "PLUGIN CREATOR_V3ONE")
            {
                auto* v3 = static_cast<nvinfer1::IPluginCreatorV3One*>(c);
                keys.insert(std::string(v3->getPluginName()) + "\t" + v3->getPluginVersion() + "\t"
                    + v3->getPluginNamespace() + "\t" + kind);
            }
            else
            {
                keys.insert(std::string("?\t?\t?\t") + kind);
            }
        }
        return keys;
    };
    for (auto const& path : plugins)
    {
        auto before = creatorKeys();
        int const errorsBefore = logger.errors;
        auto handle = registry->loadLibrary(path.c_str());
        auto after = creatorKeys();
        int added = 0;
        for (auto const& key : after)
        {
            if (before.count(key))
            {
                continue;
            }
            auto f = split(key, '\t');
            std::printf("creator lib=%s name=%s version=%s namespace=%s kind=%s\n", clean(path.c_str()).c_str(),
                clean(f[0].c_str()).c_str(), clean(f[1].c_str()).c_str(), clean(f[2].c_str()).c_str(),
                clean(f[3].c_str()).c_str());
            ++added;
        }
        if (!handle || added == 0)
        {
            // TRT-RTX logs nothing when loadLibrary fails: find the reason with our own dlopen.
            std::string why = !handle ? "IPluginRegistry::loadLibrary failed"
                                      : "the library registered no new creator (already registered, or getCreators "
                                        "returned none)";
            if (!handle)
            {
                void* own = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
                if (!own)
                {
                    why += std::string(": dlopen: ") + oneLine(dlerror());
                }
                else
                {
                    if (!dlsym(own, "getCreators") && !dlsym(own, "getPluginCreators"))
                    {
                        why += ": the library exports no getCreators (built with -fvisibility=hidden and no export?)";
                    }
                    dlclose(own);
                }
            }
            std::printf("register lib=%s status=fail creators=%d msg=%s\n", clean(path.c_str()).c_str(), added,
                why.c_str());
            code = kREGISTER_FAILED;
        }
        else
        {
            std::printf("register lib=%s status=ok creators=%d errors=%d\n", clean(path.c_str()).c_str(), added,
                logger.errors - errorsBefore);
        }
    }
    // Keep going after a registration failure: the parser's errors then name the node that needed the plugin.

    // --- network + parser --------------------------------------------------------------------------------------
    logger.stage = "parse";
    std::unique_ptr<nvinfer1::IBuilder> builder{static_cast<nvinfer1::IBuilder*>(createBuilder(&logger, version))};
    if (!builder)
    {
        std::printf("setup status=fail msg=createInferBuilder failed\n");
        return finish(kSETUP);
    }
    std::unique_ptr<nvinfer1::INetworkDefinition> network{builder->createNetworkV2(0)};
    if (!network)
    {
        std::printf("setup status=fail msg=createNetworkV2 failed\n");
        return finish(kSETUP);
    }
    std::unique_ptr<nvonnxparser::IParser> parser{
        static_cast<nvonnxparser::IParser*>(createParser(network.get(), &logger, parserVersion))};
    if (!parser)
    {
        std::printf("setup status=fail msg=createNvOnnxParser failed\n");
        return finish(kSETUP);
    }
    auto const verbosity = static_cast<int>(
        logger.verbose ? nvinfer1::ILogger::Severity::kVERBOSE : nvinfer1::ILogger::Severity::kINFO);
    bool const parsed = parser->parseFromFile(modelPath.c_str(), verbosity);
    for (int i = 0; i < parser->getNbErrors(); ++i)
    {
        auto const* e = parser->getError(i);
        std::printf("parse-error index=%d code=%s node=%d name=%s op=%s where=%s:%d msg=%s\n", i,
            errorCodeName(e->code()), e->node(), clean(e->nodeName()).c_str(), clean(e->nodeOperator()).c_str(),
            clean(e->file()).c_str(), e->line(), oneLine(e->desc()).c_str());
    }
    std::printf("parse status=%s errors=%d layers=%d inputs=%d outputs=%d\n", parsed ? "ok" : "fail",
        parser->getNbErrors(), network->getNbLayers(), network->getNbInputs(), network->getNbOutputs());
    if (!parsed)
    {
        return finish(code != kOK ? code : kIMPORT_FAILED);
    }

    // --- plugin layers vs. expectations ------------------------------------------------------------------------
    struct PluginLayer
    {
        std::string layer, name, version, nspace;
    };
    std::vector<PluginLayer> pluginLayers;
    for (int32_t i = 0; i < network->getNbLayers(); ++i)
    {
        nvinfer1::ILayer* layer = network->getLayer(i);
        if (layer->getType() != nvinfer1::LayerType::kPLUGIN_V3)
        {
            if (logger.verbose)
            {
                std::printf("layer index=%d name=%s type=%d\n", i, clean(layer->getName()).c_str(),
                    static_cast<int>(layer->getType()));
            }
            continue;
        }
        nvinfer1::IPluginV3& plugin = static_cast<nvinfer1::IPluginV3Layer*>(layer)->getPlugin();
        auto* core = static_cast<nvinfer1::IPluginV3OneCore*>(
            plugin.getCapabilityInterface(nvinfer1::PluginCapabilityType::kCORE));
        PluginLayer p{layer->getName(), core ? core->getPluginName() : "?", core ? core->getPluginVersion() : "?",
            core ? core->getPluginNamespace() : "?"};
        std::printf("layer index=%d name=%s type=PLUGIN_V3 plugin=%s version=%s namespace=%s inputs=%d outputs=%d\n", i,
            clean(p.layer.c_str()).c_str(), clean(p.name.c_str()).c_str(), clean(p.version.c_str()).c_str(),
            clean(p.nspace.c_str()).c_str(), layer->getNbInputs(), layer->getNbOutputs());
        pluginLayers.push_back(p);
    }
    for (auto const& e : expects)
    {
        PluginLayer const* found = nullptr;
        for (auto const& p : pluginLayers)
        {
            if (p.layer == e.node)
            {
                found = &p;
                break;
            }
        }
        if (!found)
        {
            std::printf("import node=%s status=missing msg=no IPluginV3 layer named after this node\n",
                clean(e.node.c_str()).c_str());
            code = code != kOK ? code : kIMPORT_FAILED;
            continue;
        }
        bool const same = found->name == e.name && found->version == e.version && found->nspace == e.nspace;
        std::printf("import node=%s status=%s plugin=%s version=%s namespace=%s expected=%s:%s:%s\n",
            clean(e.node.c_str()).c_str(), same ? "ok" : "mismatch", clean(found->name.c_str()).c_str(),
            clean(found->version.c_str()).c_str(), clean(found->nspace.c_str()).c_str(), clean(e.name.c_str()).c_str(),
            clean(e.version.c_str()).c_str(), clean(e.nspace.c_str()).c_str());
        if (!same)
        {
            code = code != kOK ? code : kIMPORT_FAILED;
        }
    }
    if (code != kOK)
    {
        return finish(code);
    }

    // --- optimisation profile ----------------------------------------------------------------------------------
    logger.stage = "build";
    std::unique_ptr<nvinfer1::IBuilderConfig> config{builder->createBuilderConfig()};
    nvinfer1::IOptimizationProfile* profile = builder->createOptimizationProfile();
    bool needProfile = false;
    for (int32_t i = 0; i < network->getNbInputs(); ++i)
    {
        nvinfer1::ITensor* t = network->getInput(i);
        nvinfer1::Dims const dims = t->getDimensions();
        bool dynamic = false;
        for (int32_t k = 0; k < dims.nbDims; ++k)
        {
            dynamic = dynamic || dims.d[k] < 0;
        }
        std::printf("input name=%s dtype=%s dims=%s\n", clean(t->getName()).c_str(), dtypeName(t->getType()),
            dimsStr(dims).c_str());
        auto it = shapes.find(t->getName());
        if (it == shapes.end())
        {
            if (dynamic)
            {
                std::printf("profile input=%s status=fail msg=dynamic input without --shape %s=MIN:OPT:MAX\n",
                    clean(t->getName()).c_str(), clean(t->getName()).c_str());
                return finish(kUSAGE);
            }
            continue;
        }
        Shape const& s = it->second;
        needProfile = true;
        bool const ok = profile->setDimensions(t->getName(), nvinfer1::OptProfileSelector::kMIN, s.min)
            && profile->setDimensions(t->getName(), nvinfer1::OptProfileSelector::kOPT, s.opt)
            && profile->setDimensions(t->getName(), nvinfer1::OptProfileSelector::kMAX, s.max);
        std::printf("profile input=%s status=%s min=%s opt=%s max=%s\n", clean(t->getName()).c_str(),
            ok ? "ok" : "fail", dimsStr(s.min).c_str(), dimsStr(s.opt).c_str(), dimsStr(s.max).c_str());
        if (!ok)
        {
            return finish(kUSAGE);
        }
    }
    for (auto const& kv : shapes)
    {
        bool known = false;
        for (int32_t i = 0; i < network->getNbInputs(); ++i)
        {
            known = known || kv.first == network->getInput(i)->getName();
        }
        if (!known)
        {
            std::printf("profile input=%s status=fail msg=the network has no such input\n", clean(kv.first.c_str()).c_str());
            return finish(kUSAGE);
        }
    }
    if (needProfile && config->addOptimizationProfile(profile) < 0)
    {
        std::printf("profile status=fail msg=addOptimizationProfile refused the profile (see the log lines above)\n");
        return finish(kUSAGE);
    }

    // --- build ----------------------------------------------------------------------------------------------------
    auto const t0 = std::chrono::steady_clock::now();
    std::unique_ptr<nvinfer1::IHostMemory> plan{builder->buildSerializedNetwork(*network, *config)};
    double const seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!plan || plan->size() == 0)
    {
        std::printf("build status=fail seconds=%.2f msg=buildSerializedNetwork returned no plan (see the log lines "
                    "above)\n", seconds);
        return finish(kBUILD_FAILED);
    }
    std::printf("build status=ok engine_bytes=%zu seconds=%.2f\n", plan->size(), seconds);
    if (!enginePath.empty())
    {
        std::ofstream out(enginePath, std::ios::binary);
        out.write(static_cast<char const*>(plan->data()), static_cast<std::streamsize>(plan->size()));
        std::printf("engine path=%s status=%s\n", clean(enginePath.c_str()).c_str(), out.good() ? "ok" : "fail");
    }
    if (run)
    {
        code = runEngine(rtx, version, logger, *plan, shapes);
    }
    std::fflush(stdout);
    // The TensorRT objects are released by the unique_ptrs; the libraries stay loaded until exit.
    return finish(code);
}
