/**
 * Code loaded when first needed rather than with the page: a browser bundler (esbuild with
 * `splitting`) puts what a dynamic `import()` reaches in chunks of its own, fetched on first use.
 */

/**
 * `load`, called once and its result kept; a failure is not kept, so that a chunk that could not
 * be fetched (the page was offline) is fetched again by the next call.
 *
 * @example
 * const engine = onDemand(() => import('./engine.js'));
 * const { run } = await engine();
 */
export function onDemand<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
