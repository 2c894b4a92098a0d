// Whole-file reads and atomic writes. Every writer in tpusim goes through write_file_atomic so a
// failure or a kill never leaves a half-written output behind.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tpusim {

// Throws Error "<path>: cannot read: <reason>".
std::vector<uint8_t> read_file_bytes(const std::string& path);
std::string read_file_text(const std::string& path);

// Writes <path>.tmp.<pid> then renames it over path. Throws Error "<path>: cannot write: <reason>"
// and removes the temporary file on failure.
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
void write_file_atomic(const std::string& path, std::string_view text);

// Checks, before long work starts, that write_file_atomic(path, ...) can succeed as far as the
// file system tells now: path is not a directory and its folder exists. Throws Error
// "<path>: cannot write: <reason>".
void check_output_path(const std::string& path);

// Prints a command's result on stdout; throws Error when it cannot be written (full disk, closed
// pipe), so a truncated listing never passes for a successful run.
void write_stdout(std::string_view text);

}  // namespace tpusim
