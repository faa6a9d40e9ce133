/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The plain reproducer: main() for a harness built without libFuzzer.
 *
 *   replay-NAME PATH...          runs every file given, and every file in
 *                                each folder given (sorted; names starting
 *                                with '.' skipped), printing TAP
 *   replay-NAME --generate DIR   writes the harness's seed corpus into DIR
 *   replay-NAME --check DIR      fails unless DIR holds exactly that corpus
 *
 * Under ASan and UBSan a crash, a leak or undefined behaviour in any input
 * fails the run, which is how the test suite replays the corpus and every
 * past crash. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Far beyond any seed; libFuzzer's own default limit is 1 MB. */
#define INPUT_MAX (16u * 1024 * 1024)

struct names
{
  char **v;
  size_t n;
  size_t cap;
};

static void
names_add (struct names *ns, char *s)
{
  if (s == NULL)
    fuzz_fail ("out of memory");
  if (ns->n == ns->cap)
    {
      size_t cap = ns->cap > 0 ? ns->cap * 2 : 64;
      char **v = realloc (ns->v, cap * sizeof *v);

      if (v == NULL)
        fuzz_fail ("out of memory");
      ns->v = v;
      ns->cap = cap;
    }
  ns->v[ns->n++] = s;
}

static void
names_free (struct names *ns)
{
  for (size_t i = 0; i < ns->n; i++)
    free (ns->v[i]);
  free (ns->v);
  memset (ns, 0, sizeof *ns);
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *
join (const char *dir, const char *name)
{
  size_t a = strlen (dir), b = strlen (name);
  char *s = malloc (a + b + 2);

  if (s == NULL)
    return NULL;
  memcpy (s, dir, a);
  s[a] = '/';
  memcpy (s + a + 1, name, b + 1);
  return s;
}

/* The regular files of dir, sorted, as full paths or bare names; a
 * missing folder has none. Returns -1 when dir cannot be read. */
static int
list_dir (const char *dir, struct names *out, int with_dir)
{
  struct dirent *de;
  size_t first = out->n;
  DIR *d = opendir (dir);

  if (d == NULL)
    return errno == ENOENT ? 0 : -1;
  while ((de = readdir (d)) != NULL)
    {
      struct stat sb;
      char *path;

      if (de->d_name[0] == '.')
        continue;
      path = join (dir, de->d_name);
      if (path == NULL)
        fuzz_fail ("out of memory");
      if (stat (path, &sb) != 0 || !S_ISREG (sb.st_mode))
        {
          free (path);
          continue;
        }
      if (with_dir)
        names_add (out, path);
      else
        {
          free (path);
          names_add (out, strdup (de->d_name));
        }
    }
  closedir (d);
  if (out->n > first)
    qsort (out->v + first, out->n - first, sizeof *out->v, cmp_str);
  return 0;
}

static uint8_t *
read_file (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  uint8_t *buf;
  size_t n;

  *len = 0;
  if (f == NULL)
    return NULL;
  buf = malloc (INPUT_MAX + 1);
  if (buf == NULL)
    fuzz_fail ("out of memory");
  n = fread (buf, 1, INPUT_MAX + 1, f);
  if (ferror (f) || n > INPUT_MAX)
    {
      fclose (f);
      free (buf);
      return NULL;
    }
  fclose (f);
  *len = n;
  return buf;
}

static int
replay (int argc, char **argv)
{
  struct names inputs = { 0 };

  for (int i = 1; i < argc; i++)
    {
      struct stat sb;

      if (stat (argv[i], &sb) != 0)
        fuzz_fail ("cannot read %s: %s", argv[i], strerror (errno));
      if (S_ISDIR (sb.st_mode))
        {
          if (list_dir (argv[i], &inputs, 1) != 0)
            fuzz_fail ("cannot read the folder %s", argv[i]);
        }
      else
        names_add (&inputs, strdup (argv[i]));
    }

  printf ("1..%zu\n", inputs.n);
  fflush (stdout);
  for (size_t i = 0; i < inputs.n; i++)
    {
      size_t len;
      uint8_t *data = read_file (inputs.v[i], &len);

      if (data == NULL)
        fuzz_fail ("cannot read %s", inputs.v[i]);
      /* Shown before the run: a crash names its input. */
      fprintf (stderr, "input %s (%zu bytes)\n", inputs.v[i], len);
      LLVMFuzzerTestOneInput (data, len);
      free (data);
      printf ("ok %zu - %s\n", i + 1, inputs.v[i]);
      fflush (stdout);
    }
  names_free (&inputs);
  return 0;
}

/* ---- --generate and --check ---- */

static const char *corpus_dir;
static struct names emitted;
static int mismatches;

static void
check_name (const char *name)
{
  if (name[0] == '\0' || name[0] == '.' || strlen (name) > 100)
    fuzz_fail ("bad seed name \"%s\"", name);
  for (const char *p = name; *p != '\0'; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
          *p == '_' || *p == '.'))
      fuzz_fail ("bad seed name \"%s\"", name);
  for (size_t i = 0; i < emitted.n; i++)
    if (strcmp (emitted.v[i], name) == 0)
      fuzz_fail ("seed \"%s\" emitted twice", name);
  names_add (&emitted, strdup (name));
}

static void
write_cb (const char *name, const void *data, size_t len)
{
  char *path;
  FILE *f;

  check_name (name);
  path = join (corpus_dir, name);
  if (path == NULL)
    fuzz_fail ("out of memory");
  f = fopen (path, "wb");
  if (f == NULL || fwrite (data, 1, len, f) != len || fclose (f) != 0)
    fuzz_fail ("cannot write %s", path);
  free (path);
}

static void
compare_cb (const char *name, const void *data, size_t len)
{
  size_t got_len = 0;
  uint8_t *got;
  char *path;

  check_name (name);
  path = join (corpus_dir, name);
  if (path == NULL)
    fuzz_fail ("out of memory");
  got = read_file (path, &got_len);
  if (got == NULL)
    {
      fprintf (stderr, "missing seed: %s\n", path);
      mismatches++;
    }
  else if (got_len != len || (len > 0 && memcmp (got, data, len) != 0))
    {
      fprintf (stderr, "stale seed: %s (%zu bytes, the generator makes %zu)\n",
               path, got_len, len);
      mismatches++;
    }
  free (got);
  free (path);
}

static int
generate (const char *prog, const char *dir, int check)
{
  struct names present = { 0 };

  corpus_dir = dir;
  if (!check)
    {
      if (mkdir (dir, 0755) != 0 && errno != EEXIST)
        fuzz_fail ("cannot create %s", dir);
      /* Only what the generator makes stays. */
      if (list_dir (dir, &present, 1) != 0)
        fuzz_fail ("cannot read the folder %s", dir);
      for (size_t i = 0; i < present.n; i++)
        unlink (present.v[i]);
      names_free (&present);
    }
  fuzz_emit_fn = check ? compare_cb : write_cb;
  fuzz_generate ();
  fuzz_emit_fn = NULL;

  if (check)
    {
      if (list_dir (dir, &present, 0) != 0)
        fuzz_fail ("cannot read the folder %s", dir);
      for (size_t i = 0; i < present.n; i++)
        {
          int found = 0;

          for (size_t k = 0; k < emitted.n && !found; k++)
            found = strcmp (emitted.v[k], present.v[i]) == 0;
          if (!found)
            {
              fprintf (stderr, "seed not made by the generator: %s/%s\n", dir,
                       present.v[i]);
              mismatches++;
            }
        }
      names_free (&present);
      if (mismatches > 0)
        {
          fprintf (stderr,
                   "%s: %d seed(s) differ from the generator's; "
                   "refresh them with: %s --generate %s\n",
                   dir, mismatches, prog, dir);
          names_free (&emitted);
          return 1;
        }
      printf ("%s: the %zu seeds match the generator\n", dir, emitted.n);
    }
  else
    printf ("%s: wrote %zu seeds\n", dir, emitted.n);
  names_free (&emitted);
  return 0;
}

int
main (int argc, char **argv)
{
  LLVMFuzzerInitialize (&argc, &argv);
  if (argc == 3 && strcmp (argv[1], "--generate") == 0)
    return generate (argv[0], argv[2], 0);
  if (argc == 3 && strcmp (argv[1], "--check") == 0)
    return generate (argv[0], argv[2], 1);
  if (argc > 1 && argv[1][0] == '-')
    {
      fprintf (stderr,
               "usage: %s PATH...\n"
               "       %s --generate DIR | --check DIR\n",
               argv[0], argv[0]);
      return 2;
    }
  return replay (argc, argv);
}
