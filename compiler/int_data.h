// Integer data of a graph tensor, one value per element, read as int64_t. Stored as int8 while
// every value fits (quantized weights: VGG-11's 133 M take 133 MB instead of 1.06 GB as int64)
// and widened to int64 on the first value that does not. The interface is the part of
// std::vector<int64_t> the compiler uses; element writes go through a small proxy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <type_traits>
#include <vector>

namespace tpusim::compiler {

class IntData {
 public:
  IntData() = default;
  IntData(const std::vector<int64_t>& v) { assign(v.begin(), v.end()); }  // NOLINT: implicit by design
  IntData(std::initializer_list<int64_t> v) { assign(v.begin(), v.end()); }

  size_t size() const { return wide_ ? w_.size() : s_.size(); }
  bool empty() const { return size() == 0; }
  int64_t operator[](size_t i) const { return wide_ ? w_[i] : s_[i]; }
  int64_t front() const { return (*this)[0]; }
  int64_t back() const { return (*this)[size() - 1]; }
  bool is_narrow() const { return !wide_; }

  class Ref {
   public:
    Ref(IntData& d, size_t i) : d_(d), i_(i) {}
    operator int64_t() const { return static_cast<const IntData&>(d_)[i_]; }  // NOLINT
    Ref& operator=(int64_t v) {
      d_.set(i_, v);
      return *this;
    }

   private:
    IntData& d_;
    size_t i_;
  };
  Ref operator[](size_t i) { return Ref(*this, i); }
  void set(size_t i, int64_t v) {
    if (!wide_ && !fits(v)) widen();
    if (wide_)
      w_[i] = v;
    else
      s_[i] = static_cast<int8_t>(v);
  }

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = int64_t;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = int64_t;
    const_iterator() = default;
    const_iterator(const IntData* d, size_t i) : d_(d), i_(i) {}
    int64_t operator*() const { return (*d_)[i_]; }
    int64_t operator[](difference_type k) const { return (*d_)[i_ + static_cast<size_t>(k)]; }
    const_iterator& operator++() { return ++i_, *this; }
    const_iterator operator++(int) { return {d_, i_++}; }
    const_iterator& operator--() { return --i_, *this; }
    const_iterator operator--(int) { return {d_, i_--}; }
    const_iterator& operator+=(difference_type k) { return i_ += static_cast<size_t>(k), *this; }
    const_iterator& operator-=(difference_type k) { return i_ -= static_cast<size_t>(k), *this; }
    friend const_iterator operator+(const_iterator a, difference_type k) { return a += k; }
    friend const_iterator operator+(difference_type k, const_iterator a) { return a += k; }
    friend const_iterator operator-(const_iterator a, difference_type k) { return a -= k; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.i_ == b.i_; }
    friend auto operator<=>(const const_iterator& a, const const_iterator& b) { return a.i_ <=> b.i_; }

   private:
    const IntData* d_ = nullptr;
    size_t i_ = 0;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size()}; }

  void clear() { s_.clear(), w_.clear(), wide_ = false; }
  void reserve(size_t n) { wide_ ? w_.reserve(n) : s_.reserve(n); }
  void resize(size_t n, int64_t v = 0) {
    if (!wide_ && !fits(v)) widen();
    wide_ ? w_.resize(n, v) : s_.resize(n, static_cast<int8_t>(v));
  }
  void push_back(int64_t v) {
    if (!wide_ && !fits(v)) widen();
    wide_ ? w_.push_back(v) : s_.push_back(static_cast<int8_t>(v));
  }
  template <class It>
  void assign(It first, It last) {
    clear();
    if constexpr (std::is_base_of_v<std::forward_iterator_tag,
                                    typename std::iterator_traits<It>::iterator_category>)
      reserve(static_cast<size_t>(std::distance(first, last)));
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }
  void assign(size_t n, int64_t v) {
    clear();
    resize(n, v);
  }
  template <class It>
  void append(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  std::vector<int64_t> vec() const { return {begin(), end()}; }
  operator std::vector<int64_t>() const { return vec(); }  // NOLINT: implicit by design
  friend bool operator==(const IntData& a, const IntData& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  friend bool operator==(const IntData& a, const std::vector<int64_t>& b) { return a == IntData(b); }

 private:
  static bool fits(int64_t v) { return v >= -128 && v <= 127; }
  void widen() {
    w_.assign(s_.begin(), s_.end());
    s_.clear();
    s_.shrink_to_fit();
    wide_ = true;
  }
  std::vector<int8_t> s_;
  std::vector<int64_t> w_;
  bool wide_ = false;
};

}  // namespace tpusim::compiler
