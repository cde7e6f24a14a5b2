void wake(int* word)
{
  // Violation: a raw syscall() outside src/sys/.
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1);
}
