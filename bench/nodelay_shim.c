/*
 * Diagnostic only (bench.ts --nodelay-shim): an LD_PRELOAD shim that turns
 * every setsockopt(TCP_NODELAY, 0) into setsockopt(TCP_NODELAY, 1).
 *
 * Deno 2.9.6 clears TCP_NODELAY on the sockets of `new WebSocket()` clients,
 * so the server's upstream socket runs Nagle's algorithm: a 20 ms caller frame
 * waits for the (delayed) ACK of the previous one. Running the server with
 * this shim shows what the bridge costs once that is fixed, without touching
 * src/. Build: cc -shared -fPIC -O2 -o nodelay_shim.so nodelay_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  static int (*real)(int, int, int, const void *, socklen_t);
  if (!real) real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
  if (level == IPPROTO_TCP && name == TCP_NODELAY && len == sizeof(int) &&
      *(const int *)value == 0) {
    static const int one = 1;
    return real(fd, level, name, &one, len);
  }
  return real(fd, level, name, value, len);
}
