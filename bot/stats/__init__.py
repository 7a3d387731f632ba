"""Anonymous statistics: per Europe/Oslo day, how often each node was shown and free text fell back."""
