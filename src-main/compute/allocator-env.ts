/**
 * Allocator settings for the processes that train, embed and evaluate (jobs, benchmark workers).
 *
 * Every output ONNX Runtime's Node binding returns is copied into a new ArrayBuffer, which Node
 * allocates with calloc. glibc serves allocations that large with a fresh mmap and unmaps them
 * when they are freed, so each activation-sized output (32 MiB for 256 images of 32 × 32 × 32)
 * pays thousands of page faults before the copy: about 18 ms, where the copy itself takes 3.
 * Told never to mmap and never to give memory back, glibc reuses the freed blocks; with
 * transparent huge pages where the kernel offers them on request, the faults that remain are
 * 512 times fewer. The reference training step is then about 10 % faster (docs/performance.md).
 *
 * The process keeps its peak heap until it exits, which suits short-lived job processes. The
 * settings must be in the environment when the process starts; a GLIBC_TUNABLES already set
 * by the user is left as it is. Other C libraries ignore the variable.
 */

/** glibc's tunables as set for job processes. */
export const JOB_GLIBC_TUNABLES = [
  'glibc.malloc.hugetlb=1',
  'glibc.malloc.mmap_max=0',
  'glibc.malloc.trim_threshold=4294967295',
].join(':');

/** The variables a job process gets on top of its parent's environment (none on non-Linux). */
export function allocatorEnv(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): Record<string, string> {
  if (platform !== 'linux' || env.GLIBC_TUNABLES !== undefined) return {};
  return { GLIBC_TUNABLES: JOB_GLIBC_TUNABLES };
}
