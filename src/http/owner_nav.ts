/** The one small navigation the owner's pages share (/calls, /phone, /memory). */

const LINKS = [
  { href: "/calls", label: "Calls" },
  { href: "/phone", label: "Phone" },
  { href: "/memory", label: "Memory" },
] as const;

export type OwnerPage = typeof LINKS[number]["href"];

/** Style for the nav, for pages that carry their own stylesheet. */
export const NAV_STYLE =
  `nav.owner{display:flex;gap:1.2rem;flex-wrap:wrap;margin:0 0 .8rem;padding:.3rem 0;border-bottom:1px solid #ddd}` +
  `nav.owner a{text-decoration:none;padding:.4rem 0}nav.owner a[aria-current=page]{font-weight:600;color:#1b1b1b}`;

export function ownerNav(current: OwnerPage | undefined): string {
  return `<nav class="owner" aria-label="Owner pages">${
    LINKS.map(({ href, label }) =>
      `<a href="${href}"${
        href === current ? ' aria-current="page"' : ""
      }>${label}</a>`
    ).join("")
  }</nav>`;
}
