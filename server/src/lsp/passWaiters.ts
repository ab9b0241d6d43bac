// What hovers, lenses and listings wait for while a document's analysis runs: its resolved stage and
// its complete analysis. One pending promise per stage serves every pass until a pass settles it, so
// a document edited a thousand times while it waits in the backlog holds two promises, not a chain of
// one per edit (bench:soak had 80,000 of them), and a superseded pass can no longer settle anything.

export interface PassSettlers<T> {
  /** Gives the waiters of the resolved stage this pass's value, unless a newer pass started. */
  resolved(value: T | undefined): void;
  /** Gives the waiters of the complete analysis this pass's value, unless a newer pass started. */
  complete(value: T | undefined): void;
}

interface Stage<T> {
  promise: Promise<T | undefined>;
  settle: (value: T | undefined) => void;
  settled: boolean;
}

function newStage<T>(): Stage<T> {
  let resolve!: (value: T | undefined) => void;
  const promise = new Promise<T | undefined>((r) => (resolve = r));
  const stage: Stage<T> = { promise, settled: false, settle: (value) => {
    stage.settled = true;
    resolve(value);
  } };
  return stage;
}

export class PassWaiters<T> {
  private resolvedStage: Stage<T> | undefined;
  private completeStage: Stage<T> | undefined;
  private currentPass: object | undefined;

  /** Settles with the newest pass's resolved stage; undefined before the first pass. */
  get resolved(): Promise<T | undefined> | undefined {
    return this.resolvedStage?.promise;
  }

  /** Settles with the newest pass's complete analysis; undefined before the first pass. */
  get complete(): Promise<T | undefined> | undefined {
    return this.completeStage?.promise;
  }

  /** A new pass takes over the pending waiters (or starts new promises once the last ones settled). */
  startPass(): PassSettlers<T> {
    if (!this.resolvedStage || this.resolvedStage.settled) this.resolvedStage = newStage<T>();
    if (!this.completeStage || this.completeStage.settled) this.completeStage = newStage<T>();
    const pass = {};
    this.currentPass = pass;
    const resolvedStage = this.resolvedStage;
    const completeStage = this.completeStage;
    return {
      resolved: (value) => {
        if (this.currentPass === pass) resolvedStage.settle(value);
      },
      complete: (value) => {
        if (this.currentPass === pass) completeStage.settle(value);
      },
    };
  }

  /** The document closed: every waiter gets `value` and no pass settles anything any more. */
  settleAll(value: T | undefined): void {
    this.currentPass = undefined;
    if (this.resolvedStage && !this.resolvedStage.settled) this.resolvedStage.settle(value);
    if (this.completeStage && !this.completeStage.settled) this.completeStage.settle(value);
  }
}
