// Defaults of the controller manager that its command line shows without loading the controllers.

/**
 * Upstream binds with one claim worker; several are safe here (pv-binder/controller.ts). A claim's binding is four
 * API writes in a row, so a worker spends most of its time waiting on the API server: with 32 workers a burst of
 * 1,000 claims waited seconds in the queue before their first write. 128 keeps the binder up with such a burst and
 * stays under kube-apiserver's default --max-mutating-requests-inflight (200).
 */
export const DefaultBinderClaimWorkers = 128;
