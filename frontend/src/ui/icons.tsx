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
export const Smile = () => <Icon d="M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01" size={16} />;
export const Reply = () => <Icon d="M9 17 4 12l5-5M4 12h11a5 5 0 0 1 5 5v2" size={16} />;
export const Pencil = () => <Icon d="M17 3a2.8 2.8 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5z" size={16} />;
export const Trash = () => <Icon d="M3 6h18M8 6V4h8v2M19 6l-1 14H6L5 6" size={16} />;
export const Clip = () => <Icon d="m21 11-9 9a5.5 5.5 0 0 1-8-8l9-9a3.7 3.7 0 0 1 5 5l-9 9a1.8 1.8 0 0 1-3-3l8-8" />;
export const Bell = () => <Icon d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.9 1.9 0 0 0 3.4 0" />;
export const BellOff = () => <Icon d="M6 8a6 6 0 0 1 9.4-4.9M18 8c0 7 3 9 3 9H7M10.3 21a1.9 1.9 0 0 0 3.4 0M2 2l20 20" />;
export const SearchIcon = () => <Icon d="M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16zM21 21l-4.3-4.3" />;
export const FileIcon = () => <Icon d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6" size={22} />;
export const Close = () => <Icon d="M18 6 6 18M6 6l12 12" size={16} />;
export const Gear = () => <Icon d="M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z" />;
export const Compass = () => <Icon d="M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM16.2 7.8l-2.1 6.3-6.3 2.1 2.1-6.3z" size={16} />;
export const BotIcon = () => <Icon d="M12 8V4M8 4h8M5 8h14v11H5zM9 13h.01M15 13h.01M2 12v4M22 12v4" />;
export const Plug = () => <Icon d="M9 2v6M15 2v6M6 8h12v4a6 6 0 0 1-12 0zM12 18v4" />;
