// ftmeta/data/impl/image_folder.ipp: the definitions of image_folder.hpp's functions: included by that header when header-only,
// compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/data/image_folder.hpp>

namespace ftmeta::data {

FTMETA_DECL bool has_image_extension(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return std::any_of(image_extensions.begin(), image_extensions.end(),
                     [&](std::string_view ext) { return std::string_view(name).ends_with(ext); });
}

}  // namespace ftmeta::data

namespace ftmeta::data::detail {

FTMETA_DECL bool hidden(const std::filesystem::path& p) {
  const std::string n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

FTMETA_DECL bool is_dir(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_directory(p, ec);  // follows symbolic links, as torchvision does
}

FTMETA_DECL void list_folder(const std::filesystem::path& dir, std::vector<std::string>& dirs,
                             std::vector<std::string>& files) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  if (ec) throw DataError("image folder: cannot list '" + dir.string() + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw DataError("image folder: cannot list '" + dir.string() + "': " + ec.message());
    const auto& p = it->path();
    if (hidden(p)) continue;
    (is_dir(p) ? dirs : files).push_back(p.filename().string());
  }
  if (ec) throw DataError("image folder: cannot list '" + dir.string() + "': " + ec.message());
}

FTMETA_DECL void collect_class_files(const std::filesystem::path& class_dir, std::vector<std::filesystem::path>& out) {
  struct Dir {
    std::string rel;
    std::filesystem::path path;
  };
  std::vector<std::pair<std::string, std::vector<std::string>>> found;  // (rel, files)
  std::vector<Dir> stack{{"", class_dir}};
  std::set<std::filesystem::path> seen;  // symbolic-link loops end here
  while (!stack.empty()) {
    Dir d = std::move(stack.back());
    stack.pop_back();
    std::error_code ec;
    auto canon = std::filesystem::canonical(d.path, ec);
    if (!ec && !seen.insert(canon).second) continue;
    std::vector<std::string> dirs, files;
    list_folder(d.path, dirs, files);
    std::erase_if(files, [](const std::string& f) { return !has_image_extension(f); });
    std::sort(files.begin(), files.end());
    found.emplace_back(d.rel, std::move(files));
    for (auto& sub : dirs) stack.push_back({d.rel.empty() ? sub : d.rel + "/" + sub, d.path / sub});
  }
  std::sort(found.begin(), found.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [rel, files] : found) {
    const auto dir = rel.empty() ? class_dir : class_dir / rel;
    for (const auto& f : files) out.push_back(dir / f);
  }
}

}  // namespace ftmeta::data::detail

namespace ftmeta::data {

FTMETA_DECL std::vector<std::string> find_classes(const std::filesystem::path& root, ClassOrder order) {
  if (!detail::is_dir(root)) throw DataError("image folder '" + root.string() + "' is not a folder");
  std::vector<std::string> dirs, files;
  detail::list_folder(root, dirs, files);
  if (dirs.empty())
    throw DataError("image folder '" + root.string() + "' has no class folders (one subfolder per class expected)");
  if (order == ClassOrder::natural)
    std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) { return natural_less(a, b); });
  else
    std::sort(dirs.begin(), dirs.end());
  return dirs;
}

FTMETA_DECL ImageFolder scan_image_folder(const std::filesystem::path& root, const ImageFolderOptions& options) {
  ImageFolder out;
  out.root = root;
  auto names = find_classes(root, options.order);
  if (options.order == ClassOrder::string) {
    const bool numeric = std::all_of(names.begin(), names.end(), [](const std::string& n) {
      return std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
    });
    if (numeric) {
      for (std::size_t i = 0; i + 1 < names.size(); ++i) {
        if (!natural_less(names[i + 1], names[i])) continue;
        out.warnings.push_back("image folder '" + root.string() +
                               "': the class names are numbers but are ordered as strings, like torchvision ('" +
                               names[i] + "' gets label " + std::to_string(i) + ", '" + names[i + 1] + "' label " +
                               std::to_string(i + 1) + "); pass ClassOrder::natural for numeric order");
        break;
      }
    }
  }
  out.classes = ClassMap(names);
  std::vector<std::string> empty;
  for (std::size_t c = 0; c < names.size(); ++c) {
    std::vector<std::filesystem::path> files;
    detail::collect_class_files(root / names[c], files);
    if (files.empty()) empty.push_back(names[c]);
    for (auto& f : files) out.samples.push_back({std::move(f), static_cast<std::int64_t>(c)});
  }
  if (!empty.empty() && !options.allow_empty) {
    std::string list;
    for (const auto& e : empty) list += (list.empty() ? "'" : ", '") + e + "'";
    throw DataError("image folder '" + root.string() + "': no image file in class folder(s) " + list +
                    " (extensions: .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp); set allow_empty to accept");
  }
  return out;
}

FTMETA_DECL SplitFolders load_split_layout(const std::filesystem::path& root, const ImageFolderOptions& options) {
  if (!has_split_layout(root))
    throw DataError("split layout: '" + root.string() + "' needs a train/ folder and a val/ or test/ folder");
  SplitFolders out;
  out.root = root;
  out.train = scan_image_folder(root / "train", options);
  out.classes = out.train.classes;
  auto check = [&](const ImageFolder& other) {
    if (other.classes == out.classes) return;
    const auto& a = out.classes.names();
    const auto& b = other.classes.names();
    std::string missing, extra;
    for (const auto& n : a)
      if (!other.classes.find(n)) missing += (missing.empty() ? "'" : ", '") + n + "'";
    for (const auto& n : b)
      if (!out.classes.find(n)) extra += (extra.empty() ? "'" : ", '") + n + "'";
    std::string msg = "split layout: the class folders of '" + (root / "train").string() + "' and '" +
                      other.root.string() + "' differ";
    if (!missing.empty()) msg += "; missing from the second: " + missing;
    if (!extra.empty()) msg += "; only in the second: " + extra;
    throw DataError(msg);
  };
  for (const char* part : {"val", "test"}) {
    if (!detail::is_dir(root / part)) continue;
    ImageFolder f = scan_image_folder(root / part, options);
    check(f);
    (std::string_view(part) == "val" ? out.val : out.test) = std::move(f);
  }
  return out;
}

}  // namespace ftmeta::data

