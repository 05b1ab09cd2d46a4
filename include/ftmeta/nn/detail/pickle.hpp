// ftmeta/nn/detail/pickle.hpp: the restricted unpickler behind load_state_dict_file (no torch here); its values: pickle_values.hpp.
// ftmeta:pure
#pragma once
#ifndef FTMETA_NN_WEIGHTS_INTERNAL
#error "ftmeta/nn/detail/pickle.hpp is internal; include <ftmeta/nn/weights.hpp>"
#endif

#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/detail/pickle_values.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ftmeta::nn::detail {

// Reads one pickle (protocols 0-5, the opcodes torch.save and plain pickle use for state dicts)
// from data[pos...], stopping after STOP; `pos` is advanced. Only the globals of
// torch's weights_only loader that a state dict needs are accepted.
class Unpickler {
 public:
  Unpickler(std::string_view data, std::string_view file, Heap& heap) : data_(data), file_(file), heap_(heap) {}

  Object* load(std::size_t& pos) {
    pos_ = pos;
    stack_.clear();
    marks_.clear();
    memo_.clear();
    for (;;) {
      const std::size_t op_at = pos_;
      const auto op = static_cast<unsigned char>(take(1)[0]);
      if (!step(op, op_at)) break;
    }
    if (stack_.empty()) fail("the pickle ends with an empty stack");
    pos = pos_;
    return stack_.back();
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw WeightsError(file_ + ": " + what + " (pickle byte " + std::to_string(op_at_) + ")");
  }

 private:
  std::string_view data_;
  std::string file_;
  Heap& heap_;
  std::size_t pos_ = 0, op_at_ = 0;
  std::vector<Object*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Object*> memo_;

  std::string_view take(std::size_t n) {
    if (n > data_.size() - pos_)
      fail("needs " + std::to_string(n) + " more bytes but the data ends " + std::to_string(data_.size() - pos_) +
           " bytes later (truncated file or lying length)");
    auto out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  std::uint64_t take_le(std::size_t n) {
    auto b = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
  }
  std::string_view take_line() {
    const auto end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("a text line runs past the end of the data");
    auto out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  Object* pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    auto* o = stack_.back();
    stack_.pop_back();
    return o;
  }
  Object*& top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Object*> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const auto at = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + static_cast<std::ptrdiff_t>(at), stack_.end());
    stack_.resize(at);
    return items;
  }
  Object* make_int(std::int64_t v, Kind kind = Kind::Int) {
    auto* o = heap_.make(kind);
    o->integer = v;
    return o;
  }
  Object* make_text(Kind kind, std::string_view s) {
    auto* o = heap_.make(kind);
    o->text.assign(s);
    return o;
  }
  Object* make_seq(Kind kind, std::vector<Object*> items) {
    auto* o = heap_.make(kind);
    o->items = std::move(items);
    return o;
  }
  Object* long_from_bytes(std::string_view b) {
    if (b.size() <= 8) {
      std::uint64_t v = 0;
      for (std::size_t i = b.size(); i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b[i]);
      if (!b.empty() && b.size() < 8 && (static_cast<unsigned char>(b.back()) & 0x80)) v |= ~std::uint64_t{0} << (8 * b.size());
      return make_int(static_cast<std::int64_t>(v));
    }
    return make_text(Kind::BigInt, b);
  }
  void set_item(Object* dict, Object* key, Object* value) {
    if (dict->kind != Kind::Dict) fail("SETITEM on a " + std::string(kind_name(dict->kind)) + ", not a dict");
    if (key->kind == Kind::Str) {
      auto [it, fresh] = dict->index.emplace(key->text, dict->entries.size());
      if (!fresh) {
        dict->entries[it->second].second = value;
        return;
      }
    } else if (key->kind != Kind::Int) {
      fail("a dict key of type " + std::string(kind_name(key->kind)) + " (state dicts use str keys)");
    }
    dict->entries.emplace_back(key, value);
  }
  Object* global(std::string_view module, std::string_view name) {
    const std::string full = std::string(module) + "." + std::string(name);
    auto* o = make_text(Kind::Global, full);
    if (full == "collections.OrderedDict") o->callable = Callable::OrderedDict;
    else if (full == "torch._utils._rebuild_tensor") o->callable = Callable::RebuildTensor;
    else if (full == "torch._utils._rebuild_tensor_v2") o->callable = Callable::RebuildTensorV2;
    else if (full == "torch._utils._rebuild_parameter") o->callable = Callable::RebuildParameter;
    else if (full == "torch._utils._rebuild_parameter_with_state") o->callable = Callable::RebuildParameterWithState;
    else if ((module == "torch" || module == "torch.cuda") && name.size() > 7 && name.substr(name.size() - 7) == "Storage") {
      o->callable = Callable::StorageType;
      o->storage_type = find_storage_dtype(name);
      if (!o->storage_type) fail("unsupported storage type (dtype) '" + full + "'");
    } else {
      fail("refused global '" + full + "': only the globals that rebuild tensors and dicts are allowed "
           "(as torch.load(weights_only=True)); re-save the file as a plain state dict");
    }
    return o;
  }
  static bool is_int(const Object* o) { return o->kind == Kind::Int; }
  std::vector<std::int64_t> int_tuple(const Object* o, std::string_view what) {
    if (o->kind != Kind::Tuple) fail(std::string(what) + " is a " + std::string(kind_name(o->kind)) + ", not a tuple");
    if (o->items.size() > 64) fail(std::string(what) + " has " + std::to_string(o->items.size()) + " dimensions");
    std::vector<std::int64_t> out;
    for (const auto* i : o->items) {
      if (!is_int(i)) fail(std::string(what) + " holds a " + std::string(kind_name(i->kind)));
      out.push_back(i->integer);
    }
    return out;
  }
  Object* persistent_load(Object* pid) {
    if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items.size() > 6 || pid->items[0]->kind != Kind::Str ||
        pid->items[0]->text != "storage")
      fail("a persistent id that is not ('storage', type, key, location, numel[, view])");
    const auto* type = pid->items[1];
    const auto* key = pid->items[2];
    const auto* numel = pid->items[4];
    if (type->kind != Kind::Global || type->callable != Callable::StorageType)
      fail("a persistent id whose storage type is not a torch storage type");
    if (key->kind != Kind::Str || !is_int(numel) || numel->integer < 0)
      fail("a persistent id with a malformed key or element count");
    const auto& info = *type->storage_type;
    if (static_cast<std::uint64_t>(numel->integer) > (std::uint64_t{1} << 62) / info.element_size)
      fail("storage '" + key->text + "' claims " + std::to_string(numel->integer) + " elements");
    const StorageRef* root = nullptr;
    for (const auto& s : heap_.storages)
      if (s->key == key->text) root = s.get();
    if (root) {
      if (root->dtype != info.dtype || root->numel != numel->integer)
        fail("storage '" + key->text + "' is described twice, differently");
    } else {
      auto s = std::make_unique<StorageRef>();
      s->key = key->text;
      s->dtype = info.dtype;
      s->numel = s->length = numel->integer;
      heap_.storages.push_back(std::move(s));
      root = heap_.storages.back().get();
    }
    auto* o = heap_.make(Kind::Storage);
    o->storage = root;
    if (pid->items.size() == 6 && pid->items[5]->kind != Kind::None) {  // legacy view: (view_key, offset, size)
      const auto* view = pid->items[5];
      if (view->kind != Kind::Tuple || view->items.size() != 3 || !is_int(view->items[1]) || !is_int(view->items[2]))
        fail("a malformed storage view in the persistent id of '" + key->text + "'");
      const auto begin = view->items[1]->integer, length = view->items[2]->integer;
      if (begin < 0 || length < 0 || begin > root->numel || length > root->numel - begin)
        fail("a view [" + std::to_string(begin) + ", +" + std::to_string(length) + ") of storage '" + key->text +
             "' of " + std::to_string(root->numel) + " elements");
      auto s = std::make_unique<StorageRef>(*root);
      s->begin = begin;
      s->length = length;
      heap_.storages.push_back(std::move(s));
      o->storage = heap_.storages.back().get();
    }
    return o;
  }
  Object* rebuild_tensor(Object* storage, Object* offset, Object* size, Object* stride) {
    if (storage->kind != Kind::Storage) fail("a tensor rebuilt from a " + std::string(kind_name(storage->kind)));
    if (!is_int(offset)) fail("a tensor whose storage offset is not an int");
    auto* o = heap_.make(Kind::Tensor);
    auto& t = o->tensor;
    const auto& s = *storage->storage;
    t.storage = &s;
    t.sizes = int_tuple(size, "a tensor's size");
    t.strides = int_tuple(stride, "a tensor's stride");
    if (t.sizes.size() != t.strides.size()) fail("a tensor whose size and stride differ in length");
    // The last element the view touches must lie inside the storage (or its legacy view).
    const auto shape = [&] {
      std::string out = "[";
      for (std::size_t i = 0; i < t.sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(t.sizes[i]);
      return out + "]";
    };
    std::int64_t last = offset->integer;
    bool empty = false;
    for (std::size_t i = 0; i < t.sizes.size(); ++i) {
      if (t.sizes[i] < 0 || t.strides[i] < 0) fail("a tensor with a negative size or stride " + shape());
      if (t.sizes[i] == 0) empty = true;
    }
    if (offset->integer < 0 || offset->integer > s.length)
      fail("a tensor's storage offset " + std::to_string(offset->integer) + " lies outside storage '" + s.key + "'");
    std::int64_t numel = 1;
    for (std::size_t i = 0; i < t.sizes.size() && !empty; ++i) {
      std::int64_t span = 0;
      if (__builtin_mul_overflow(t.sizes[i] - 1, t.strides[i], &span) || __builtin_add_overflow(last, span, &last) ||
          __builtin_mul_overflow(numel, t.sizes[i], &numel))
        fail("a tensor of absurd shape " + shape());
    }
    if (!empty && last >= s.length)
      fail("a tensor of shape " + shape() + " reaches element " + std::to_string(last) + " of storage '" + s.key +
           "', which holds " + std::to_string(s.length));
    t.offset = s.begin + offset->integer;
    return o;
  }
  Object* call(Object* callable, Object* args) {
    if (callable->kind != Kind::Global) fail("REDUCE on a " + std::string(kind_name(callable->kind)) + ", not a global");
    if (args->kind != Kind::Tuple) fail("REDUCE with arguments that are not a tuple");
    const auto& a = args->items;
    const auto empty_dict = [](const Object* o) { return o->kind == Kind::None || (o->kind == Kind::Dict && o->entries.empty()); };
    switch (callable->callable) {
      case Callable::OrderedDict:
        if (!a.empty()) fail("collections.OrderedDict called with arguments");
        return heap_.make(Kind::Dict);
      case Callable::RebuildTensor:
        if (a.size() != 4) fail("torch._utils._rebuild_tensor takes 4 arguments");
        return rebuild_tensor(a[0], a[1], a[2], a[3]);
      case Callable::RebuildTensorV2:
        if (a.size() != 6 && a.size() != 7) fail("torch._utils._rebuild_tensor_v2 takes 6 or 7 arguments");
        if (!empty_dict(a[5])) fail("a tensor with backward hooks");
        return rebuild_tensor(a[0], a[1], a[2], a[3]);
      case Callable::RebuildParameter:
      case Callable::RebuildParameterWithState:
        if (a.size() != (callable->callable == Callable::RebuildParameter ? 3u : 4u))
          fail("'" + callable->text + "' called with " + std::to_string(a.size()) + " arguments");
        if (a[0]->kind != Kind::Tensor) fail("a Parameter rebuilt from a " + std::string(kind_name(a[0]->kind)));
        if (!empty_dict(a[2]) || (a.size() == 4 && !empty_dict(a[3]))) fail("a Parameter with hooks or extra state");
        return a[0];
      case Callable::StorageType: break;
    }
    fail("'" + callable->text + "' cannot be called");
  }

  // Executes one opcode; false after STOP.
  bool step(unsigned char op, std::size_t op_at) {
    op_at_ = op_at;
    switch (op) {
      case 0x80: {  // PROTO
        const auto v = take_le(1);
        if (v > 5) fail("pickle protocol " + std::to_string(v) + " is newer than 5");
        return true;
      }
      case 0x95: take(8); return true;  // FRAME: framing is only a read-ahead hint
      case '.': return false;           // STOP
      case '(': marks_.push_back(stack_.size()); return true;
      case '0': pop(); return true;
      case '1': pop_mark(); return true;
      case '2': {
        auto* o = top();
        stack_.push_back(o);
        return true;
      }
      case 'N': stack_.push_back(heap_.make(Kind::None)); return true;
      case 0x88: stack_.push_back(make_int(1, Kind::Bool)); return true;
      case 0x89: stack_.push_back(make_int(0, Kind::Bool)); return true;
      case 'J': stack_.push_back(make_int(static_cast<std::int32_t>(take_le(4)))); return true;
      case 'K': stack_.push_back(make_int(static_cast<std::int64_t>(take_le(1)))); return true;
      case 'M': stack_.push_back(make_int(static_cast<std::int64_t>(take_le(2)))); return true;
      case 'I':
      case 'L': {  // INT / LONG, text forms
        auto line = take_line();
        if (op == 'L' && !line.empty() && line.back() == 'L') line.remove_suffix(1);
        if (op == 'I' && (line == "00" || line == "01")) {
          stack_.push_back(make_int(line == "01", Kind::Bool));
          return true;
        }
        std::int64_t v = 0;
        bool neg = !line.empty() && line[0] == '-';
        if (line.size() == std::size_t(neg) || line.size() > 19) fail("a malformed text integer");
        for (char c : line.substr(neg)) {
          if (c < '0' || c > '9') fail("a malformed text integer");
          if (v > (INT64_MAX - (c - '0')) / 10) fail("a text integer beyond 64 bits");  // found by fuzz/pickle_fuzz.cpp
          v = v * 10 + (c - '0');
        }
        stack_.push_back(make_int(neg ? -v : v));
        return true;
      }
      case 0x8a: {  // LONG1
        const auto n = take_le(1);
        stack_.push_back(long_from_bytes(take(n)));
        return true;
      }
      case 0x8b: {  // LONG4
        const auto n = static_cast<std::int32_t>(take_le(4));
        if (n < 0) fail("a negative LONG4 length");
        stack_.push_back(long_from_bytes(take(static_cast<std::size_t>(n))));
        return true;
      }
      case 'G': {  // BINFLOAT, big-endian
        auto b = take(8);
        std::uint64_t bits = 0;
        for (char c : b) bits = (bits << 8) | static_cast<unsigned char>(c);
        auto* o = heap_.make(Kind::Float);
        std::memcpy(&o->real, &bits, 8);
        stack_.push_back(o);
        return true;
      }
      case 'X': stack_.push_back(make_text(Kind::Str, take(take_le(4)))); return true;     // BINUNICODE
      case 0x8c: stack_.push_back(make_text(Kind::Str, take(take_le(1)))); return true;    // SHORT_BINUNICODE
      case 0x8d: stack_.push_back(make_text(Kind::Str, take(take_le(8)))); return true;    // BINUNICODE8
      case 'U': stack_.push_back(make_text(Kind::Str, take(take_le(1)))); return true;     // SHORT_BINSTRING
      case 'T': {                                                                         // BINSTRING
        const auto n = static_cast<std::int32_t>(take_le(4));
        if (n < 0) fail("a negative BINSTRING length");
        stack_.push_back(make_text(Kind::Str, take(static_cast<std::size_t>(n))));
        return true;
      }
      case 'C': stack_.push_back(make_text(Kind::Bytes, take(take_le(1)))); return true;   // SHORT_BINBYTES
      case 'B': stack_.push_back(make_text(Kind::Bytes, take(take_le(4)))); return true;   // BINBYTES
      case 0x8e: stack_.push_back(make_text(Kind::Bytes, take(take_le(8)))); return true;  // BINBYTES8
      case ')': stack_.push_back(make_seq(Kind::Tuple, {})); return true;
      case 't': stack_.push_back(make_seq(Kind::Tuple, pop_mark())); return true;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const std::size_t n = op - 0x84u;
        std::vector<Object*> items(n);
        for (std::size_t i = n; i-- > 0;) items[i] = pop();
        stack_.push_back(make_seq(Kind::Tuple, std::move(items)));
        return true;
      }
      case ']': stack_.push_back(make_seq(Kind::List, {})); return true;
      case 'l': stack_.push_back(make_seq(Kind::List, pop_mark())); return true;
      case 'a':
      case 'e': {  // APPEND, APPENDS
        std::vector<Object*> items = op == 'a' ? std::vector<Object*>{pop()} : pop_mark();
        auto* list = top();
        if (list->kind != Kind::List) fail("APPEND to a " + std::string(kind_name(list->kind)) + ", not a list");
        list->items.insert(list->items.end(), items.begin(), items.end());
        return true;
      }
      case '}': stack_.push_back(heap_.make(Kind::Dict)); return true;
      case 'd':
      case 'u': {  // DICT, SETITEMS
        auto items = pop_mark();
        if (items.size() % 2) fail("an odd number of items for a dict");
        Object* dict = op == 'd' ? heap_.make(Kind::Dict) : top();
        for (std::size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1]);
        if (op == 'd') stack_.push_back(dict);
        return true;
      }
      case 's': {  // SETITEM
        auto* value = pop();
        auto* key = pop();
        set_item(top(), key, value);
        return true;
      }
      case 'c': {  // GLOBAL
        const auto module = take_line();
        const auto name = take_line();
        stack_.push_back(global(module, name));
        return true;
      }
      case 0x93: {  // STACK_GLOBAL
        auto* name = pop();
        auto* module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str) fail("STACK_GLOBAL without two strings");
        stack_.push_back(global(module->text, name->text));
        return true;
      }
      case 'R': {  // REDUCE
        auto* args = pop();
        auto& f = top();
        f = call(f, args);
        return true;
      }
      case 'b': {  // BUILD: only an OrderedDict's attributes (torch's `_metadata`), which are dropped
        pop();
        if (top()->kind != Kind::Dict) fail("BUILD on a " + std::string(kind_name(top()->kind)) + " (only dicts are allowed)");
        return true;
      }
      case 'Q': {  // BINPERSID
        auto& pid = top();
        pid = persistent_load(pid);
        return true;
      }
      case 'q': memo_[take_le(1)] = top(); return true;  // BINPUT
      case 'r': memo_[take_le(4)] = top(); return true;  // LONG_BINPUT
      case 0x94: memo_[memo_.size()] = top(); return true;  // MEMOIZE
      case 'p':
      case 'g': {  // PUT, GET (text index)
        const auto line = take_line();
        std::uint64_t idx = 0;
        if (line.empty() || line.size() > 18) fail("a malformed memo index");
        for (char c : line) {
          if (c < '0' || c > '9') fail("a malformed memo index");
          idx = idx * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (op == 'p') memo_[idx] = top();
        else stack_.push_back(memo_get(idx));
        return true;
      }
      case 'h': stack_.push_back(memo_get(take_le(1))); return true;  // BINGET
      case 'j': stack_.push_back(memo_get(take_le(4))); return true;  // LONG_BINGET
      case 0x81: fail("opcode NEWOBJ is not allowed in a state dict");
      case 0x92: fail("opcode NEWOBJ_EX is not allowed in a state dict");
      case 'o': fail("opcode OBJ is not allowed in a state dict");
      case 'i': fail("opcode INST is not allowed in a state dict");
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        fail(std::string("unknown or unsupported pickle opcode 0x") + hex[op >> 4] + hex[op & 15]);
      }
    }
  }
  Object* memo_get(std::uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo entry " + std::to_string(idx) + " is read before it is written");
    return it->second;
  }
};

}  // namespace ftmeta::nn::detail
