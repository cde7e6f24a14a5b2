// The unit every queue in nanorun holds: an intrusive node with one function
// pointer. The function either invokes the work and frees the node ("complete")
// or only frees it ("destroy", used when a runtime is destroyed with work still
// queued). Queues store only pointers, so moving work between queues never
// allocates.
#pragma once

#include <cstddef>

namespace nanorun::detail {

class operation
{
public:
  // Run the work. The node is freed before the user's function is called, so
  // a handler may post again into the memory it just released.
  void complete() { func_(this, true); }

  // Free the node without running the work.
  void destroy() noexcept { func_(this, false); }

  operation* next_ = nullptr; // owned by whichever queue holds the node

protected:
  using func_type = void (*)(operation*, bool invoke);
  explicit operation(func_type f) noexcept : func_(f) {}
  ~operation() = default;

private:
  func_type func_;
};

// A FIFO of operations linked through next_. Not thread-safe: callers lock or
// own it.
class op_queue
{
public:
  op_queue() noexcept = default;
  op_queue(const op_queue&) = delete;
  op_queue& operator=(const op_queue&) = delete;
  op_queue(op_queue&& o) noexcept : head_(o.head_), tail_(o.tail_), size_(o.size_)
  {
    o.head_ = o.tail_ = nullptr;
    o.size_ = 0;
  }

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }

  void push(operation* op) noexcept
  {
    op->next_ = nullptr;
    if (tail_)
      tail_->next_ = op;
    else
      head_ = op;
    tail_ = op;
    ++size_;
  }

  void splice(op_queue& o) noexcept
  {
    if (o.empty())
      return;
    if (tail_)
      tail_->next_ = o.head_;
    else
      head_ = o.head_;
    tail_ = o.tail_;
    size_ += o.size_;
    o.head_ = o.tail_ = nullptr;
    o.size_ = 0;
  }

  // Appends a chain linked newest-first (as a lock-free stack hands it over)
  // in oldest-first order.
  void push_stack(operation* newest) noexcept
  {
    operation* oldest = nullptr;
    while (newest)
    {
      operation* next = newest->next_;
      newest->next_ = oldest;
      oldest = newest;
      newest = next;
    }
    while (oldest)
    {
      operation* next = oldest->next_;
      push(oldest);
      oldest = next;
    }
  }

  operation* front() const noexcept { return head_; }

  operation* pop() noexcept
  {
    operation* op = head_;
    if (op)
    {
      head_ = op->next_;
      if (!head_)
        tail_ = nullptr;
      op->next_ = nullptr;
      --size_;
    }
    return op;
  }

private:
  operation* head_ = nullptr;
  operation* tail_ = nullptr;
  std::size_t size_ = 0;
};

} // namespace nanorun::detail
