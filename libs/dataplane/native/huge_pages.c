/*
 * The one system call artifactstore needs and Node does not offer: madvise(MADV_HUGEPAGE) on a buffer's memory,
 * so that an O_DIRECT read into it is one device segment instead of one per 4 KiB page (ADR 0010).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include <node_api.h>

static napi_value throw_range_error(napi_env env) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                         "adviseHugePages expects a power-of-two page size and a length that is a multiple of it");
  return NULL;
}

/* A whole number in 1 .. 2^52 (exact in a double), or 0 when the value is anything else. */
static int64_t whole_number(napi_env env, napi_value value) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) return 0;
  if (!(number >= 1 && number <= 4503599627370496.0) || number != (double)(int64_t)number) return 0;
  return (int64_t)number;
}

/*
 * adviseHugePages(memory: ArrayBuffer, hugePageSize: number, length: number): number
 *
 * Finds the first address in `memory` aligned to `hugePageSize` with `length` bytes after it inside `memory`,
 * advises the kernel to back those bytes with huge pages, and returns their offset in `memory`. Returns null when
 * `memory` has no such range (a detached or empty buffer included) and -errno when madvise refused. `memory` must
 * belong to the caller alone and must not have been touched yet for the advice to take effect at the first touch.
 */
static napi_value advise_huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  void *data = NULL;
  size_t byte_length = 0;
  bool is_array_buffer = false;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 3 ||
      napi_is_arraybuffer(env, args[0], &is_array_buffer) != napi_ok || !is_array_buffer ||
      napi_get_arraybuffer_info(env, args[0], &data, &byte_length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "adviseHugePages expects an ArrayBuffer and two numbers");
    return NULL;
  }
  int64_t page = whole_number(env, args[1]);
  int64_t length = whole_number(env, args[2]);
  if (page == 0 || (page & (page - 1)) != 0 || length == 0 || length % page != 0) return throw_range_error(env);
  napi_value result;
  uint64_t start = (uint64_t)(uintptr_t)data;
  uint64_t skip = (0 - start) & ((uint64_t)page - 1);
  if ((uint64_t)length > (uint64_t)byte_length || skip > (uint64_t)byte_length - (uint64_t)length) {
    if (napi_get_null(env, &result) != napi_ok) return NULL;
    return result;
  }
  int64_t offset = madvise((char *)data + skip, (size_t)length, MADV_HUGEPAGE) == 0 ? (int64_t)skip : -(int64_t)errno;
  if (napi_create_int64(env, offset, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "adviseHugePages", NAPI_AUTO_LENGTH, advise_huge_pages, NULL, &fn) != napi_ok)
    return NULL;
  if (napi_set_named_property(env, exports, "adviseHugePages", fn) != napi_ok) return NULL;
  return exports;
}
