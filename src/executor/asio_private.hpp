// Reading a private member of Asio's internals, for the two places that are
// written against Boost 1.81's sources (the Asio bridge, the frame
// exchange). An explicit instantiation may name a private member (the
// language exempts it from access checks); this one stores the member
// pointer in a friend function that the tag finds by argument-dependent
// lookup:
//   NANORUN_ASIO_PRIVATE(my_tag, &boost::asio::detail::scheduler::mutex_);
//   obj.*member(my_tag{})
// Use it at namespace scope in nanorun::detail, with a tag name of its own.
#pragma once

namespace nanorun::detail {

template <auto Member, class Tag>
struct asio_private
{
  friend constexpr auto member(Tag) noexcept { return Member; }
};

} // namespace nanorun::detail

#define NANORUN_ASIO_PRIVATE(tag, member_pointer)                                                                    \
  struct tag                                                                                                         \
  {                                                                                                                  \
    friend constexpr auto member(tag) noexcept;                                                                      \
  };                                                                                                                 \
  template struct ::nanorun::detail::asio_private<member_pointer, tag>
