/*
 * The one system call artifactstore needs and Node does not offer: madvise(MADV_HUGEPAGE) on a buffer's memory.
 *
 * A download reads its blob with O_DIRECT into 2 MiB pooled buffers (libs/dataplane/src/direct-io.ts). The kernel
 * hands the device one segment per physically contiguous run of the buffer; a buffer of 4 KiB pages is 512
 * segments, a buffer on one transparent huge page is one. On the VMs measured here (virtio-blk), that made
 * O_DIRECT reads run at 3.7 GiB/s instead of 1.3 (docs/benchmarks.md, session 10; ADR 0010).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <node_api.h>

/*
 * adviseHugePages(memory: ArrayBuffer, hugePageSize: number, length: number): number
 *
 * Finds the first address in `memory` aligned to `hugePageSize` with `length` bytes after it inside `memory`,
 * advises the kernel to back those bytes with huge pages, and returns their offset in `memory`. Returns -1 when the
 * kernel refuses the advice (no transparent huge pages) and -2 when `memory` has no such range. `memory` must not
 * have been touched yet for the advice to take effect at the first touch; `length` must be a multiple of
 * `hugePageSize`, which must be a power of two.
 */
static napi_value advise_huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  void *data = NULL;
  size_t byte_length = 0;
  int64_t page = 0;
  int64_t length = 0;
  bool is_array_buffer = false;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 3 ||
      napi_is_arraybuffer(env, args[0], &is_array_buffer) != napi_ok || !is_array_buffer ||
      napi_get_arraybuffer_info(env, args[0], &data, &byte_length) != napi_ok ||
      napi_get_value_int64(env, args[1], &page) != napi_ok || napi_get_value_int64(env, args[2], &length) != napi_ok ||
      page <= 0 || (page & (page - 1)) != 0 || length <= 0 || length % page != 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "adviseHugePages expects an ArrayBuffer, a power-of-two page size and a multiple of it");
    return NULL;
  }
  uintptr_t start = (uintptr_t)data;
  uintptr_t aligned = (start + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  int64_t offset = -2;
  if (aligned - start + (uintptr_t)length <= byte_length) {
    offset = madvise((void *)aligned, (size_t)length, MADV_HUGEPAGE) == 0 ? (int64_t)(aligned - start) : -1;
  }
  napi_value result;
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
