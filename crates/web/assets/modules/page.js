// What the server said about the page on screen: which page it is, and the
// time zone its times are shown in.

/** `<body data-page>`: list, detail, groups, members, activity, settings, auth. */
export const page = document.body.dataset.page;
/** The profile's zone when the person chose one, else this device's. */
export const zone = document.body.dataset.zone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
