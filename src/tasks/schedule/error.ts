/** The one error the scheduling core throws: `field` names the offending input for a 422. */
export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
