/**
 * A button that asks before it acts: a modal <dialog> (focus trapped by the
 * browser, Escape cancels) naming what will happen. Errors from the action
 * show in the dialog.
 */
import { useId, useRef, useState } from 'react';
import { ApiError } from '../api/client';

export function ConfirmButton(props: { label: string; /** The button's accessible name when `label` alone is ambiguous (one per row). */ ariaLabel?: string; title: string; body: string; confirmLabel?: string; danger?: boolean; disabled?: boolean; onConfirm: () => Promise<unknown> }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const open = () => {
    setError(null);
    dialog.current?.showModal();
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      dialog.current?.close();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className={props.danger ? 'danger' : undefined} disabled={props.disabled} onClick={open} aria-label={props.ariaLabel}>
        {props.label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <h2 id={titleId}>{props.title}</h2>
        <p>{props.body}</p>
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" className={props.danger ? 'danger primary' : 'primary'} disabled={busy} onClick={() => void confirm()}>
            {busy ? 'Working…' : (props.confirmLabel ?? props.label)}
          </button>
        </div>
      </dialog>
    </>
  );
}
