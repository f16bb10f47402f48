// The harness's plain-text case file: which plugin to load and the tensors to drive it with.
//
// One statement per line, '#' starts a comment, tokens are separated by blanks:
//   plugin <name>                      TensorRT plugin name (== ONNX op_type); required
//   version <version>                  default "1"
//   namespace <namespace>              default "" (omit the line)
//   layer <name>                       the ONNX node name passed to createPlugin; default "harness_layer"
//   field <name> <float32|int32|char> <v1,v2,...>
//                                      a node attribute; given to createPlugin only if getFieldNames() lists it,
//                                      as the ONNX parser does
//   input <dtype> min=<shape> opt=<shape> max=<shape> run=<shape> [file=<raw file>]
//                                      shapes are extents joined by 'x' (8x3x1000; empty = rank 0); an axis with
//                                      min != max is a runtime dim (-1 at build time); no file = zero-filled
//   output <dtype> [file=<raw file>]   where the run writes the output (raw bytes, C order)
//   bad <input> <axis> <value>         an out-of-range extent for --reject
//   nondeterministic                   equal runs may differ in the last bits (float atomics): the clone's
//                                      outputs are written beside the outputs (<file>.clone), not compared
// dtype: float32 float16 bfloat16 int8 uint8 int32 int64 bool. Relative files are relative to the case file.
#pragma once
#include <NvInferRuntime.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace harness
{

struct DTypeInfo
{
    char const* name;
    nvinfer1::DataType type;
    size_t itemsize;
};

inline DTypeInfo const kDTypes[] = {
    {"float32", nvinfer1::DataType::kFLOAT, 4},
    {"float16", nvinfer1::DataType::kHALF, 2},
    {"bfloat16", nvinfer1::DataType::kBF16, 2},
    {"int8", nvinfer1::DataType::kINT8, 1},
    {"uint8", nvinfer1::DataType::kUINT8, 1},
    {"int32", nvinfer1::DataType::kINT32, 4},
    {"int64", nvinfer1::DataType::kINT64, 8},
    {"bool", nvinfer1::DataType::kBOOL, 1},
};

inline DTypeInfo const& dtypeByName(std::string const& name)
{
    for (auto const& d : kDTypes)
    {
        if (name == d.name)
        {
            return d;
        }
    }
    throw std::runtime_error("unknown dtype '" + name + "'");
}

inline DTypeInfo const& dtypeOf(nvinfer1::DataType type)
{
    for (auto const& d : kDTypes)
    {
        if (d.type == type)
        {
            return d;
        }
    }
    throw std::runtime_error("unsupported DataType " + std::to_string(static_cast<int>(type)));
}

using Shape = std::vector<int64_t>;

struct InputCase
{
    DTypeInfo dtype;
    Shape min, opt, max, run;
    std::string file;
};

struct OutputCase
{
    DTypeInfo dtype;
    std::string file;
};

struct FieldCase
{
    std::string name;
    std::string type;
    std::string values;
};

struct Case
{
    std::string plugin;
    std::string version{"1"};
    std::string ns;
    std::string layer{"harness_layer"};
    bool deterministic{true};
    std::vector<FieldCase> fields;
    std::vector<InputCase> inputs;
    std::vector<OutputCase> outputs;
    bool hasBad{false};
    int32_t badInput{0};
    int32_t badAxis{0};
    int64_t badValue{0};
};

inline Shape parseShape(std::string const& text)
{
    Shape shape;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, 'x'))
    {
        shape.push_back(std::stoll(item));
    }
    return shape;
}

inline std::string shapeStr(Shape const& s)
{
    std::string out;
    for (size_t i = 0; i < s.size(); ++i)
    {
        out += (i ? "x" : "") + std::to_string(s[i]);
    }
    return out.empty() ? "scalar" : out;
}

inline std::string resolve(std::string const& dir, std::string const& file)
{
    return file.empty() || file[0] == '/' ? file : dir + "/" + file;
}

inline Case readCase(std::string const& path)
{
    std::ifstream in(path);
    if (!in)
    {
        throw std::runtime_error("cannot open case file '" + path + "'");
    }
    std::string const dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    Case c;
    std::string line;
    int lineNo = 0;
    while (std::getline(in, line))
    {
        ++lineNo;
        line = line.substr(0, line.find('#'));
        std::stringstream ss(line);
        std::string key;
        if (!(ss >> key))
        {
            continue;
        }
        auto fail = [&](std::string const& why) {
            return std::runtime_error(path + ":" + std::to_string(lineNo) + ": " + why);
        };
        std::vector<std::string> tok;
        for (std::string t; ss >> t;)
        {
            tok.push_back(t);
        }
        auto kv = [&](std::string const& name, bool required) -> std::string {
            for (auto const& t : tok)
            {
                if (t.rfind(name + "=", 0) == 0)
                {
                    return t.substr(name.size() + 1);
                }
            }
            if (required)
            {
                throw fail("missing " + name + "=");
            }
            return "";
        };
        if (key == "plugin" && tok.size() == 1)
        {
            c.plugin = tok[0];
        }
        else if (key == "version" && tok.size() == 1)
        {
            c.version = tok[0];
        }
        else if (key == "namespace" && tok.size() <= 1)
        {
            c.ns = tok.empty() ? "" : tok[0];
        }
        else if (key == "layer" && tok.size() == 1)
        {
            c.layer = tok[0];
        }
        else if (key == "nondeterministic" && tok.empty())
        {
            c.deterministic = false;
        }
        else if (key == "field" && tok.size() == 3)
        {
            c.fields.push_back({tok[0], tok[1], tok[2]});
        }
        else if (key == "input" && !tok.empty())
        {
            InputCase ic{dtypeByName(tok[0]), parseShape(kv("min", true)), parseShape(kv("opt", true)),
                parseShape(kv("max", true)), parseShape(kv("run", true)), resolve(dir, kv("file", false))};
            size_t const rank = ic.run.size();
            if (ic.min.size() != rank || ic.opt.size() != rank || ic.max.size() != rank)
            {
                throw fail("min/opt/max/run ranks differ");
            }
            c.inputs.push_back(ic);
        }
        else if (key == "output" && !tok.empty())
        {
            c.outputs.push_back({dtypeByName(tok[0]), resolve(dir, kv("file", false))});
        }
        else if (key == "bad" && tok.size() == 3)
        {
            c.hasBad = true;
            c.badInput = std::stoi(tok[0]);
            c.badAxis = std::stoi(tok[1]);
            c.badValue = std::stoll(tok[2]);
        }
        else
        {
            throw fail("cannot read '" + line + "'");
        }
    }
    if (c.plugin.empty())
    {
        throw std::runtime_error(path + ": no 'plugin' line");
    }
    if (c.hasBad && (c.badInput < 0 || c.badInput >= static_cast<int32_t>(c.inputs.size()) || c.badAxis < 0
            || c.badAxis >= static_cast<int32_t>(c.inputs[c.badInput].run.size())))
    {
        throw std::runtime_error(path + ": 'bad' names no input axis");
    }
    return c;
}

} // namespace harness
