/*
 * The one system call artifactstore needs and Node does not offer: duplicating a socket's file descriptor.
 *
 * A download writes to its socket from the thread pool (libs/dataplane/src/socket-writer.ts, ADR 0009). Node may
 * close the socket's own descriptor at any moment (a client reset, an idle timeout, shutdown); a write queued on
 * the thread pool with that number could then land in whatever file or socket reused it. A duplicate belongs to
 * the download alone and is closed by it, after its last write.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <node_api.h>

static napi_value throw_error(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

/* dupSocket(fd: number): number — a new close-on-exec descriptor for the same socket; throws on anything else. */
static napi_value dup_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, arg, &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "dupSocket expects a file descriptor");
    return NULL;
  }
  struct stat info_of_fd;
  if (fstat(fd, &info_of_fd) != 0) return throw_error(env, errno == EBADF ? "EBADF" : "EIO", strerror(errno));
  if (!S_ISSOCK(info_of_fd.st_mode)) return throw_error(env, "ENOTSOCK", "file descriptor is not a socket");
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return throw_error(env, errno == EMFILE ? "EMFILE" : "EIO", strerror(errno));
  napi_value result;
  if (napi_create_int32(env, copy, &result) != napi_ok) {
    close(copy);
    return NULL;
  }
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "dupSocket", NAPI_AUTO_LENGTH, dup_socket, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "dupSocket", fn) != napi_ok) return NULL;
  return exports;
}
