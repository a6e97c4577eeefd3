"""The exception types for bad user input, and a spelling hint for their messages."""

import difflib
import re


class InputError(Exception):
    """Bad input from the user: a flag, a value, a file.

    The message is one line that names the file, flag or value and says what
    was expected. The CLI prints it without a traceback and exits with status 2.
    """


class DataNotFoundError(InputError):
    """A dataset was found neither locally nor through a keras download."""


class DiskFullError(InputError):
    """A write failed because the disk (or the user's quota) is full.

    An InputError: the CLI prints its one line and exits 2; the run is not
    broken, and the same command resumes once there is space.
    """


SUGGESTIONS_SHOWN = 8
CLOSE_WORD = 0.8  # difflib's ratio from which a word counts as a misspelling of another.


def did_you_mean(name: str, choices) -> str:
    """' (did you mean X?)' or ' (did you mean one of X, Y?)' for what `name` most
    likely meant among `choices`, or ''.

    Words first, then letters: the choices that extend a name of several words
    ('fashion_mnist' -> every fashion_mnist_* choice); else those that hold every
    word of `name` (spelled alike, a prefix of a word, or its initials: 'lr' for
    learning_rate), the fewest misspelt, then the most of their own words covered
    ('mnist_grid' -> mnist_init_lr_grid, not mnist_ood); else difflib's closest by
    letters ('mpl' -> mlp).
    """
    choices = [str(choice) for choice in choices]
    found = [choice for choice in choices
             if len(_words(name)) > 1 and choice.startswith(f"{name}_")]
    if not found:
        found = _by_words(name, choices)
    if not found:
        found = difflib.get_close_matches(name, choices, n=1)
    if not found:
        return ""
    if len(found) == 1:
        return f" (did you mean {found[0]}?)"
    more = ", ..." if len(found) > SUGGESTIONS_SHOWN else ""
    return f" (did you mean one of {', '.join(found[:SUGGESTIONS_SHOWN])}{more}?)"


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[^0-9a-z]+", text.lower()) if word]


def _by_words(name: str, choices: list[str]) -> list[str]:
    """The choices holding every word of `name`, best first (see did_you_mean)."""
    wanted = _words(name)
    scored = []
    for choice in choices:
        match = _word_match(wanted, _words(choice))
        if match is not None:
            scored.append((match, choice))
    if not wanted or not scored:
        return []
    best = min(match for match, _ in scored)
    return [choice for match, choice in scored if match == best]


def _word_match(wanted: list[str], words: list[str]) -> tuple[int, float] | None:
    """(words misspelt, minus the share of `words` covered) when every wanted word is
    in `words`; None when one is not."""
    covered, misspelt = set(), 0
    for word in wanted:
        initials = [start for start in range(len(words) - len(word) + 1) if len(word) > 1
                    and "".join(w[0] for w in words[start:start + len(word)]) == word]
        exact = [i for i, other in enumerate(words) if other == word
                 or (len(word) >= 3 and other.startswith(word))]
        if exact:
            covered.add(exact[0])
        elif initials:
            covered.update(range(initials[0], initials[0] + len(word)))
        else:
            close = [i for i, other in enumerate(words)
                     if difflib.SequenceMatcher(None, word, other).ratio() >= CLOSE_WORD]
            if not close:
                return None
            covered.add(close[0])
            misspelt += 1
    return misspelt, -round(len(covered) / len(words), 6)
