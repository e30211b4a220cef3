// FitError.Error() of pkg/scheduler/framework/types.go: the FailedScheduling message.
import type { Diagnosis } from './interfaces.ts';

/**
 * "0/N nodes are available:" then the PreFilter message or, when PreFilter passed, the histogram of node reasons
 * ("<count> <reason>", sorted as strings, joined by ", "), each part closed by "."; then the PostFilter message.
 */
export function fitErrorMessage(numAllNodes: number, diagnosis: Diagnosis): string {
  let message = `0/${numAllNodes} nodes are available:`;
  if (diagnosis.preFilterMsg !== '') {
    message += ` ${diagnosis.preFilterMsg}.`;
  } else {
    // A PreFilter rejection copies its status to every node, so the histogram is only built when PreFilter passed.
    const histogram = new Map<string, number>();
    for (const status of diagnosis.nodeToStatus.values()) {
      for (const reason of status.reasons) histogram.set(reason, (histogram.get(reason) ?? 0) + 1);
    }
    const parts = [...histogram].map(([reason, count]) => `${count} ${reason}`).sort(compareGoStrings);
    if (parts.length > 0) message += ` ${parts.join(', ')}.`;
  }
  if (diagnosis.postFilterMsg !== '') message += ` ${diagnosis.postFilterMsg}.`;
  return message;
}

/** sort.Strings order: bytewise, not locale-aware. */
export function compareGoStrings(a: string, b: string): number {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return Buffer.compare(ba, bb);
}
