export function Loading({ what }: { what: string }) {
  return (
    <p className="muted loading" role="status">
      {what}…
    </p>
  );
}
