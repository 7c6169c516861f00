/**
 * The image builder port: PACKAGE hands it a source commit, a Dockerfile and the image
 * reference to produce, and follows the build to its end. The reference ops module's build endpoint
 * is one adapter; a registry that builds, a CI job or a Kubernetes job can be another.
 */
export interface BuildSpec {
  appId: number;
  commitId: string;
  dockerfile: string;
  /** Target reference, `<registry>/<name>:<tag>`. */
  image: string;
  /** Where the builder fetches the source (the repository's clone URL), when it needs it. */
  repoUrl?: string;
  /**
   * The same key asks for the same build again (a runner taking over an attempt from one that died
   * re-attaches to its build instead of starting a second one).
   */
  idempotencyKey: string;
}

export interface BuiltImage {
  buildId: string;
  image: string;
  digest?: string;
}

/** Called while the build runs (keeps the caller's progress visible). */
export type BuildProgress = (status: { buildId: string; status: string; message: string }) => void;

export interface ImageBuilder {
  /** Where builds go, for messages. */
  readonly describe: string;
  /**
   * Creates the build and polls it to its end; fails with an ImageBuildError. A builder that does not
   * answer is waited for (`onWaiting` with the reason, then null when it answers again), never a
   * failure.
   */
  build(
    spec: BuildSpec,
    signal: AbortSignal,
    onProgress?: BuildProgress,
    onWaiting?: (reason: string | null) => void,
  ): Promise<BuiltImage>;
}

export type ImageBuildFailure =
  /** The builder refused the request (4xx other than 429). */
  | "rejected"
  /** The build ran and failed (or was cancelled). */
  | "build_failed"
  /** The build did not end within the configured time. */
  | "timeout";

export class ImageBuildError extends Error {
  override name = "ImageBuildError";
  constructor(
    readonly failure: ImageBuildFailure,
    message: string,
    /** The outside call that failed, e.g. `POST /build/create`. */
    readonly call: string,
    readonly buildId: string | null = null,
  ) {
    super(message);
  }
}
