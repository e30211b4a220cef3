// Errors of the `strata` command: each message says what went wrong and what to do.

export class PortInUseError extends Error {
  constructor(host: string, port: number) {
    super(`port ${port} on ${host} is already in use (another Strata or kube-apiserver?); choose another with --port N, or --port 0 for a free one`);
    this.name = 'PortInUseError';
  }
}

export class ClusterFileReadError extends Error {
  constructor(file: string, why: string) {
    super(`cannot read cluster file ${file}: ${why}`);
    this.name = 'ClusterFileReadError';
  }
}

/** A step of a demonstration did not turn out as the lecture shows. */
export class DemoStepError extends Error {
  constructor(step: string, why: string) {
    super(`step "${step}" failed: ${why}`);
    this.name = 'DemoStepError';
  }
}
