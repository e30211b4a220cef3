// The structured logger the client logs through: pino's call shape (object first, then message), so any pino
// logger (or child) can be passed in; the default is one pino instance for the process.
import { pino } from 'pino';

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const defaultLogger: Logger = pino({ name: 'strata-client', level: process.env.STRATA_LOG_LEVEL ?? 'info' });
