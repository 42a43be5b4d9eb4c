// The panel's small set of building blocks: page frame, error box, buttons, fields, tables, badges.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/** A page: a heading, actions on the right, then the content. */
export function Page(props: { title: string; actions?: ComponentChildren; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · nimbo`;
  }, [props.title]);
  return (
    <section class="page">
      <header class="page-head">
        <h1>{props.title}</h1>
        <div class="actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

/** A titled block inside a page. */
export function Section(props: { title: string; actions?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <section class="card">
      <header class="card-head">
        <h2>{props.title}</h2>
        <div class="actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

/** The API's error sentence, when there is one. */
export function ErrorBox(props: { error?: string }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert">
      {props.error}
    </p>
  );
}

/** A loading line. */
export function Loading() {
  return <p class="muted" aria-live="polite">Loading…</p>;
}

/** A button; `kind` styles it (primary, danger, plain). */
export function Button(props: JSX.ButtonHTMLAttributes<HTMLButtonElement> & { kind?: 'primary' | 'danger' | 'plain' }) {
  const { kind = 'plain', class: cls, type, ...rest } = props;
  return <button type={(type as 'button' | 'submit') ?? 'button'} class={`btn btn-${kind} ${cls ?? ''}`} {...rest} />;
}

let fieldSeq = 0;
/** A labelled form field around one input (the label is tied to it for screen readers). */
export function Field(props: { label: string; hint?: string; children: (id: string) => ComponentChildren }) {
  const id = useRef(`f${++fieldSeq}`).current;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children(id)}
      {props.hint ? <small class="muted">{props.hint}</small> : null}
    </div>
  );
}

/** A column of a Table. */
export interface Column<T> {
  title: string;
  cell: (row: T) => ComponentChildren;
  class?: string;
}

/** A table of rows, or a line saying there are none. */
export function Table<T>(props: { columns: Column<T>[]; rows: T[] | undefined; empty?: string; rowKey: (row: T) => string; label?: string }) {
  if (!props.rows) return <Loading />;
  if (props.rows.length === 0) return <p class="muted">{props.empty ?? 'Nothing here yet.'}</p>;
  return (
    <div class="table-wrap">
      <table aria-label={props.label}>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" class={c.class}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={props.rowKey(r)}>
              {props.columns.map((c) => (
                <td class={c.class}>{c.cell(r)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A state as a coloured badge (running, stopped, error...). */
export function Badge(props: { state: string }) {
  return <span class={`badge badge-${props.state.replace(/[^a-z]/g, '')}`}>{props.state}</span>;
}

/** A progress bar (0-100). */
export function Progress(props: { value: number; label: string }) {
  return <progress class="progress" max={100} value={props.value} aria-label={props.label} />;
}

/** A key/value list. */
export function Facts(props: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {props.items.map(([k, v]) => (
        <div>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
