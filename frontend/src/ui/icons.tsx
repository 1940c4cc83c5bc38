// Small inline SVG icons; decorative (aria-hidden), so their buttons carry
// the accessible name.

import type { JSX } from "preact";

function Icon(props: { d: string; size?: number }): JSX.Element {
  const s = props.size ?? 18;
  return (
    <svg width={s} height={s} viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2"
      stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">
      <path d={props.d} />
    </svg>
  );
}

export const Plus = () => <Icon d="M12 5v14M5 12h14" />;
export const Send = () => <Icon d="M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z" />;
export const Menu = () => <Icon d="M3 6h18M3 12h18M3 18h18" />;
export const Hash = () => <Icon d="M4 9h16M4 15h16M10 3 8 21M16 3l-2 18" size={16} />;
export const Lock = () => <Icon d="M5 11h14v10H5zM8 11V7a4 4 0 0 1 8 0v4" size={16} />;
export const UserPlus = () => <Icon d="M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM19 8v6M22 11h-6" />;
export const LogOut = () => <Icon d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9" />;
export const Down = () => <Icon d="M12 5v14M19 12l-7 7-7-7" size={16} />;
export const Door = () => <Icon d="M14 3h5v18h-5M10 17l5-5-5-5M15 12H3" />;
