import { EXIT, exitStatusOf } from './cli.errors.js';

describe('exitStatusOf', () => {
  it.each([
    ['package_gone', EXIT.notFound],
    ['package_held', EXIT.conflict],
    ['illegal_package_state', EXIT.conflict],
    ['deletion_forbidden', EXIT.unreachable],
    ['collector_busy', EXIT.unreachable],
    ['scrub_found_damage', EXIT.integrity],
    ['scrub_failed', EXIT.unreachable],
    ['unknown_retention_class', EXIT.invalidInput],
    ['tag_not_found', EXIT.notFound],
    ['tag_name_mismatch', EXIT.conflict],
    ['tag_immutable', EXIT.conflict],
    ['idempotency_key_reused', EXIT.conflict],
    ['receipt_invalid', EXIT.integrity],
    ['checkpoint_invalid', EXIT.integrity],
    ['log_inconsistent', EXIT.integrity],
    ['log_range_not_available', EXIT.notFound],
    ['package_conflict', EXIT.conflict],
    ['bundle_invalid', EXIT.integrity],
  ])('maps %s to exit %i', (code, status) => {
    expect(exitStatusOf(code)).toBe(status);
  });

  it('falls back on the HTTP status for a code it does not know: 410 is not found, 409 a conflict', () => {
    expect(exitStatusOf('something_new', 410)).toBe(EXIT.notFound);
    expect(exitStatusOf('something_new', 409)).toBe(EXIT.conflict);
    expect(exitStatusOf('something_new', 403)).toBe(EXIT.unreachable);
  });
});
