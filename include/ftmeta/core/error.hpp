// ftmeta/core/error.hpp: the exception types ftmeta throws; each message names the thing at fault.
// ftmeta:pure
#pragma once

#include <stdexcept>
#include <string>

namespace ftmeta {

/// Base of every ftmeta error.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A file (image, weights, checkpoint, manifest) that cannot be read or is malformed.
struct FileError : Error {
  using Error::Error;
};
/// A weights file that is malformed, unsafe, or does not fit the model.
struct WeightsError : FileError {
  using FileError::FileError;
};
/// A dataset layout or content problem (no classes, class maps that disagree, ...).
struct DataError : Error {
  using Error::Error;
};
/// A wrong command-line flag or value.
struct UsageError : Error {
  using Error::Error;
};

}  // namespace ftmeta
