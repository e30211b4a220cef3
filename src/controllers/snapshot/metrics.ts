// The snapshot controller's operation metrics (external-snapshotter pkg/metrics): how long CreateSnapshot,
// CreateSnapshotAndReady and DeleteSnapshot take from the controller's first sight of a VolumeSnapshot, and how many
// such operations are in flight.
import { Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

export const CreateSnapshotOperationName = 'CreateSnapshot';
export const CreateSnapshotAndReadyOperationName = 'CreateSnapshotAndReady';
export const DeleteSnapshotOperationName = 'DeleteSnapshot';
export type SnapshotType = 'dynamic' | 'pre-provisioned';
export type OperationStatus = 'success' | 'cancel' | 'unknown';

const unknownDriverName = 'unknown';
const metricBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600];

/** What the sync logic reports; a no-op implementation is fine when nothing scrapes. */
export interface OperationMetrics {
  operationStart(operation: string, snapshotUid: string, driver: string, snapshotType: SnapshotType): void;
  recordMetrics(operation: string, snapshotUid: string, status: OperationStatus, driver: string): void;
}

interface OperationValue {
  driver: string;
  snapshotType: SnapshotType;
  startMs: number;
}

export class SnapshotOperationMetrics implements OperationMetrics {
  private readonly inFlight = new Map<string, OperationValue>();
  private readonly latency: Histogram<'driver_name' | 'operation_name' | 'snapshot_type' | 'operation_status'>;
  private readonly inFlightGauge: Gauge;

  constructor(registry: Registry) {
    this.latency = new Histogram({
      name: 'snapshot_controller_operation_total_seconds',
      help: 'Total number of seconds spent by the controller on an operation',
      labelNames: ['driver_name', 'operation_name', 'snapshot_type', 'operation_status'],
      buckets: metricBuckets,
      registers: [registry],
    });
    this.inFlightGauge = new Gauge({
      name: 'snapshot_controller_operations_in_flight',
      help: 'Total number of operations in flight',
      registers: [registry],
      collect: () => this.inFlightGauge.set(this.inFlight.size),
    });
  }

  /** Remembers the start of an operation; a second start of the same operation keeps the first time. */
  operationStart(operation: string, snapshotUid: string, driver: string, snapshotType: SnapshotType): void {
    const key = `${operation}/${snapshotUid}`;
    if (!this.inFlight.has(key)) this.inFlight.set(key, { driver: driver || unknownDriverName, snapshotType, startMs: Date.now() });
  }

  /** Observes an operation's duration; a no-op for an operation never started. Deleting also cancels pending creates. */
  recordMetrics(operation: string, snapshotUid: string, status: OperationStatus, driver: string): void {
    const key = `${operation}/${snapshotUid}`;
    const value = this.inFlight.get(key);
    if (!value) return;
    const driverName = driver && driver !== unknownDriverName ? driver : value.driver;
    const seconds = (Date.now() - value.startMs) / 1000;
    this.observe(driverName, operation, value.snapshotType, status, seconds);
    if (operation === DeleteSnapshotOperationName) {
      for (const pending of [CreateSnapshotOperationName, CreateSnapshotAndReadyOperationName]) {
        const pendingKey = `${pending}/${snapshotUid}`;
        const created = this.inFlight.get(pendingKey);
        if (!created) continue;
        this.observe(created.driver, pending, created.snapshotType, 'cancel', seconds);
        this.inFlight.delete(pendingKey);
      }
    }
    this.inFlight.delete(key);
  }

  private observe(driver: string, operation: string, snapshotType: string, status: string, seconds: number): void {
    this.latency.observe({ driver_name: driver, operation_name: operation, snapshot_type: snapshotType, operation_status: status }, seconds);
  }
}
