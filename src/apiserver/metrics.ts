// Prometheus metrics with upstream's names: apiserver_request_total and apiserver_request_duration_seconds.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly total = new Counter({
    name: 'apiserver_request_total',
    help: 'Counter of apiserver requests broken out for each verb, group, version, resource, subresource, scope, component and HTTP response code.',
    labelNames: ['verb', 'group', 'resource', 'subresource', 'code'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'apiserver_request_duration_seconds',
    help: 'Response latency distribution in seconds for each verb, group, resource and subresource.',
    labelNames: ['verb', 'group', 'resource', 'subresource'],
    buckets: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  // prom-client hashes the label object on every call; the few label combinations are looked up once instead.
  private readonly series = new Map<string, { total: { inc(): void }; duration: { observe(seconds: number): void } }>();

  observe(verb: string, group: string, resource: string, subresource: string, code: number, seconds: number): void {
    const key = `${verb} ${group} ${resource} ${subresource} ${code}`;
    let series = this.series.get(key);
    if (!series) {
      series = {
        total: this.total.labels({ verb, group, resource, subresource, code: String(code) }),
        duration: this.duration.labels({ verb, group, resource, subresource }),
      };
      this.series.set(key, series);
    }
    series.total.inc();
    series.duration.observe(seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
