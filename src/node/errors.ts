// Errors of the node agent.

/** The node agent's options or the cluster file cannot run this node. */
export class NodeAgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeAgentConfigError';
  }
}

/** A pod's volumes are not ready yet; the message is the kubelet's ("error processing PVC ns/name: PVC is not bound"). */
export class VolumeNotReadyError extends Error {
  /** Names of the pod volumes that could not be processed. */
  readonly volumes: string[];
  constructor(volumes: string[], message: string) {
    super(message);
    this.name = 'VolumeNotReadyError';
    this.volumes = volumes;
  }
}

/** Setting up one volume failed (a CSI NodePublishVolume error, a failed bind mount); retried with backoff. */
export class VolumeSetupError extends Error {
  readonly volume: string;
  constructor(volume: string, message: string) {
    super(message);
    this.name = 'VolumeSetupError';
    this.volume = volume;
  }
}

/** The log server's answer to a request it cannot serve: HTTP status and the kubelet's message. */
export class LogRequestError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'LogRequestError';
    this.code = code;
  }
}
