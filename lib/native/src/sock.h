/* Socket and network-namespace primitives of the Ambit addon, free of any N-API code.
 * Every function returns 0 or a positive errno and names the failing system call in *syscall. */
#ifndef AMBIT_SOCK_H
#define AMBIT_SOCK_H

#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef struct {
  int has_mark;
  uint32_t mark;
  int transparent;
  int reuse_port;
  /* < 0: leave the socket unconnected and unlistened (the caller connects it). */
  int backlog;
  /* bind only when set; a listener always binds. */
  int has_bind;
  struct sockaddr_storage bind_addr;
  socklen_t bind_len;
  int family; /* AF_INET or AF_INET6 */
} ambit_sock_spec;

/* Parses an IP literal into a sockaddr; returns 0, or EINVAL when it is not one of `family`. */
int ambit_parse_addr(int family, const char *ip, uint16_t port, struct sockaddr_storage *out, socklen_t *len);

/* Creates a non-blocking, close-on-exec TCP socket as described by `spec`. When target_ns >= 0
 * the socket is created inside that network namespace, and the thread returns to orig_ns before
 * this function returns, on every path; if it cannot return, the process aborts. */
int ambit_make_socket(int target_ns, int orig_ns, const ambit_sock_spec *spec, int *out_fd, const char **syscall);

int ambit_set_mark(int fd, uint32_t mark, const char **syscall);
int ambit_set_transparent(int fd, const char **syscall);

/* The destination a connection had before netfilter NAT (REDIRECT/DNAT) rewrote it. */
int ambit_original_dst(int fd, struct sockaddr_storage *out, const char **syscall);

int ambit_open_netns(const char *path, int *out_fd, const char **syscall);

#endif
